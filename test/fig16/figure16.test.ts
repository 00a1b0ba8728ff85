// Figure 16 on the simulator, in small: a trial measures a real election after a real crash, the same seed gives the
// same result, election timeouts stay in the range asked for, and `make paper-fig16`'s program writes its charts
// and tables (with a handful of trials per line rather than 1,000).

import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { paperConditions, runTrial } from '../../bench/fig16/experiment';
import { ElectionJitterRand } from '../../raft/rafttest/simnode';
import { SeededRand } from '../../raft/rand';
import { repoRoot } from '../integration/harness';

test('an election timeout is drawn from [electionTick, electionTick + jitter)', () => {
  const rand = new ElectionJitterRand(new SeededRand(7), 5);
  const drawn = new Set<number>();
  for (let i = 0; i < 500; i++) drawn.add(rand.intn(150));
  expect([...drawn].sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4]);
  expect(new ElectionJitterRand(new SeededRand(7), 0).intn(150)).toBe(0);
  expect(() => new ElectionJitterRand(new SeededRand(7), 20).intn(10)).toThrow(/exceeds/);
});

test('a trial measures the time from the crash to a new leader, the same for the same seed', () => {
  const range = { lo: 150, hi: 300 };
  const a = runTrial(range, 42);
  expect(runTrial(range, 42)).toEqual(a);
  expect(a.censored).toBe(false);
  expect(a.elections).toBeGreaterThanOrEqual(1);
  // Followers heard the leader at most a heartbeat interval (75 ms) before the crash, and wait at least 150 ms.
  expect(a.ms).toBeGreaterThan(150 - 75);
  expect(a.ms).toBeLessThan(paperConditions.capMs);
  const times = [1, 2, 3, 4, 5, 6].map((seed) => runTrial({ lo: 12, hi: 24 }, seed).ms);
  for (const ms of times) expect(ms).toBeGreaterThan(12 - 6);
  expect(new Set(times).size).toBeGreaterThan(1);
});

test('the figure program writes both halves as SVG and PNG, and the table beside the paper', async () => {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'tsraft-fig16-'));
  try {
    const stdout = await new Promise<string>((resolve, reject) => {
      execFile(process.execPath, [path.join(repoRoot, 'dist', 'bench', 'fig16', 'main.js'), '--trials', '3', '--cap-ms', '2000', '--out', out], (err, so, se) => {
        if (err !== null) reject(new Error(`${err.message}\n${se}`));
        else resolve(so);
      });
    });
    for (const half of ['top', 'bottom']) {
      expect(fs.readFileSync(path.join(out, `${half}.svg`), 'utf8')).toMatch(/^<svg/);
      expect(fs.readFileSync(path.join(out, `${half}.png`)).subarray(1, 4).toString('latin1')).toBe('PNG');
    }
    const results = fs.readFileSync(path.join(out, 'results.md'), 'utf8');
    expect(results).toMatch(/\| 150-155 \| median \| 287 \|/);
    expect(results).toMatch(/\| 12-24 \| worst \| 152 \|/);
    expect(stdout).toMatch(/\| 150-200 \| worst \| 513 \|/);
  } finally {
    fs.rmSync(out, { recursive: true, force: true });
  }
});
