// Crash test with real processes: a child appends and acknowledges fsync'd entries; the parent SIGKILLs it at random
// moments and reopens the WAL. Every acknowledged entry must be there, and the log must be a valid prefix of what
// the children wrote.
import { ChildProcess, spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Wal, WalError, emptyWalSnapshot } from '../../wal/wal';
import { childScript } from './child';
import { RecordingLogger } from '../support/recording_logger';
import { entryData, scratchDir } from './helpers';

const TRIALS = process.env.TSRAFT_LONG === '1' ? 50 : 10;
const SEGMENT = 64 * 1024;

interface Run {
  ready: number;
  acked: number;
  warnings: string[];
}

function runAndKill(script: string, dir: string, term: number, afterMs: number): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child: ChildProcess = spawn(process.execPath, [script, dir, String(term), String(SEGMENT)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const run: Run = { ready: -1, acked: 0, warnings: [] };
    let buffered = '';
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdout?.on('data', (d: Buffer) => {
      buffered += d.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      for (const line of lines) {
        const [word, arg] = line.split(' ');
        if (word === 'ready') {
          run.ready = Number(arg);
          setTimeout(() => child.kill('SIGKILL'), afterMs);
        } else if (word === 'ack') {
          run.acked = Number(arg);
        } else {
          run.warnings.push(line);
        }
      }
    });
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      if (signal !== 'SIGKILL') reject(new Error(`Crash child exited with ${code}: ${stderr}`));
      else resolve(run);
    });
  });
}

let scratch: string;
beforeAll(() => {
  scratch = scratchDir('crash');
});
afterAll(() => fs.rmSync(scratch, { recursive: true, force: true }));

test(`every acknowledged entry survives ${TRIALS} SIGKILLs at random moments`, async () => {
  const script = childScript(scratch);
  // On disk rather than tmpfs when possible: fdatasync and preallocation should do real work here.
  const dir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'tsraft-crash-')), 'wal');
  let acked = 0;
  /** Term of each index as last acknowledged: a later run's entries are written after the previous run's end. */
  const termOf: number[] = [0];
  try {
    for (let trial = 1; trial <= TRIALS; trial++) {
      const run = await runAndKill(script, dir, trial, 5 + Math.floor(Math.random() * 120));
      expect(run.ready).toBe(acked);
      for (let i = run.ready + 1; i <= run.acked; i++) termOf[i] = trial;
      acked = Math.max(acked, run.acked);

      const logger = new RecordingLogger();
      let entries;
      const w = Wal.open(dir, emptyWalSnapshot(), { segmentSize: SEGMENT, logger });
      try {
        entries = w.readAll().entries;
      } catch (err) {
        if (err instanceof WalError) throw new Error(`Trial ${trial}: the WAL was refused: ${err.message}`);
        throw err;
      } finally {
        w.close();
      }
      // A valid prefix: contiguous from 1, each entry's content what its writer wrote.
      expect(entries.length).toBeGreaterThanOrEqual(acked);
      entries.forEach((e, i) => {
        expect(e.index).toBe(i + 1);
        if (i + 1 <= acked) expect(e.term).toBe(termOf[i + 1]);
        expect(Buffer.from(e.data).equals(Buffer.from(entryData(e.index, e.term, e.data.length)))).toBe(true);
      });
      // Entries beyond the acknowledgements were written but not yet reported; the next run keeps them.
      for (let i = acked + 1; i <= entries.length; i++) termOf[i] = entries[i - 1].term;
      acked = entries.length;
    }
    expect(acked).toBeGreaterThan(0);
  } finally {
    fs.rmSync(path.dirname(dir), { recursive: true, force: true });
  }
});
