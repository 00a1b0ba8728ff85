// Restart after synced data was damaged: a member that cannot rebuild what it acknowledged refuses, naming the file.
import * as fs from 'fs';
import * as path from 'path';
import { createDisk, openDisk } from '../../kvstore/disk';
import { Entry, EntryType, Snapshot } from '../../raft/types';
import { RecordingLogger } from '../support/recording_logger';
import { entryData, scratchDir } from '../wal/helpers';

let root: string;
beforeEach(() => {
  root = scratchDir('recovery');
});
afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

const meta = { id: 1, clusterId: 'a1', members: [{ id: 1, peerURL: 'http://127.0.0.1:1', clientURL: '', learner: false }] };
const options = { segmentSize: 4096 };

function entries(lo: number, hi: number, term: number): Entry[] {
  const out: Entry[] = [];
  for (let i = lo; i <= hi; i++) out.push({ index: i, term, type: EntryType.EntryNormal, data: entryData(i, term, 100) });
  return out;
}

function snapshotAt(index: number, term: number): Snapshot {
  return {
    data: Buffer.from(`state at ${index}`),
    metadata: { index, term, confState: { voters: [1], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false } },
  };
}

test('a damaged snapshot received from a leader is not silently replaced by an older one', async () => {
  const dataDir = path.join(root, 'member');
  const p = createDisk(dataDir, meta, new RecordingLogger(), options).persistence;
  p.write({ term: 1, vote: 1, commit: 20 }, entries(1, 20, 1));
  await p.sync();
  const local = snapshotAt(20, 1);
  p.saveSnapshot(local);
  p.release(local);
  p.write({ term: 1, vote: 1, commit: 25 }, entries(21, 25, 1));
  await p.sync();
  // A leader's snapshot at 100: file, marker, the hard state that commits it, a sync, then the purge.
  const received = snapshotAt(100, 2);
  p.saveSnapshot(received);
  p.write({ term: 2, vote: 0, commit: 100 }, []);
  await p.sync();
  p.release(received);
  p.close();

  // The disk flips a bit in the newest snapshot file. The older one and the log after it reach only index 25.
  const file = path.join(dataDir, 'snap', '0000000000000002-0000000000000064.snap');
  const bytes = fs.readFileSync(file);
  bytes[bytes.length - 3] ^= 0x10;
  fs.writeFileSync(file, bytes);
  expect(() => openDisk(dataDir, new RecordingLogger(), options)).toThrow(
    /commits index 100, but the newest usable snapshot \(index 20\) and the log after it reach only index 25; damaged snapshot files: .*0000000000000002-0000000000000064\.snap\.broken/,
  );
});

test('a member with no snapshot file replays its whole log, and damage in its oldest segment still refuses', async () => {
  const dataDir = path.join(root, 'member');
  const p = createDisk(dataDir, meta, new RecordingLogger(), options).persistence;
  for (let i = 1; i <= 150; i += 10) p.write({ term: 1, vote: 1, commit: i + 9 }, entries(i, i + 9, 1));
  await p.sync();
  p.close();
  const segments = fs.readdirSync(path.join(dataDir, 'wal')).filter((f) => f.endsWith('.wal')).sort();
  expect(segments.length).toBeGreaterThan(2);

  const opened = openDisk(dataDir, new RecordingLogger(), options);
  expect(opened.start.snapshot.metadata.index).toBe(0);
  expect(opened.start.storage.lastIndex()).toBe(150);
  expect(opened.start.storage.initialState().hardState.commit).toBe(150);
  opened.start.persistence.close();

  // A bit flips in an entry of the first segment, far behind the tail: the replay verifies it as the marker pass did.
  const first = path.join(dataDir, 'wal', segments[0] ?? '');
  const bytes = fs.readFileSync(first);
  bytes[600] ^= 0x01;
  fs.writeFileSync(first, bytes);
  expect(() => openDisk(dataDir, new RecordingLogger(), options)).toThrow(new RegExp(`${segments[0]}: (CRC mismatch|invalid length word|malformed)`));
});
