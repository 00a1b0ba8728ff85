// The writer of the WAL crash test. It opens (or creates) the WAL in argv[2], reports the last index it found, then
// appends batches of entries forever, printing "ack <index>" once a batch up to <index> is fdatasync'd. The parent
// kills it with SIGKILL at a random moment and checks that every acknowledged entry survived.
//
// Usage: node dist/test/wal/crash-child.js <dir> <term> <segmentSize>
import * as fs from 'fs';
import { Wal, emptyWalSnapshot } from '../../wal/wal';
import { makeEntries } from './helpers';

function say(line: string): void {
  // Synchronous on purpose: an acknowledgement must leave the process before the next write can be killed.
  fs.writeSync(1, `${line}\n`);
}

function main(): void {
  const [dir, termArg, sizeArg] = process.argv.slice(2);
  const term = Number(termArg);
  const segmentSize = Number(sizeArg);
  const quiet = {
    debug: () => undefined,
    info: () => undefined,
    warning: say,
    error: say,
    panic: (m: string): never => {
      throw new Error(m);
    },
  };
  let wal: Wal;
  let last = 0;
  if (Wal.exists(dir)) {
    wal = Wal.open(dir, emptyWalSnapshot(), { segmentSize, logger: quiet });
    const r = wal.readAll();
    last = r.entries.length === 0 ? 0 : r.entries[r.entries.length - 1].index;
  } else {
    wal = Wal.create(dir, { nodeId: 1, clusterId: 1 }, { segmentSize, logger: quiet });
  }
  say(`ready ${last}`);
  let seed = (process.pid * 7919) >>> 0;
  for (;;) {
    seed = (seed * 1103515245 + 12345) >>> 0;
    const n = 1 + (seed % 40);
    const size = 16 + ((seed >>> 8) % 400);
    const ents = makeEntries(last + 1, last + n, term, size);
    last += n;
    wal.save({ term, vote: 1, commit: last }, ents, true);
    say(`ack ${last}`);
  }
}

main();
