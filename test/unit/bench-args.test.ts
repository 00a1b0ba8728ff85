// A benchmark checks its command line before it starts anything: `--help` prints the usage, and a mistyped flag, a
// flag without its value or a value out of range is refused with the usage and exit status 2, instead of being
// ignored by a run of minutes made with the defaults. Runs the compiled scripts, as `make bench-*` does.

import { spawnSync } from 'node:child_process';
import path from 'node:path';

const dist = path.join(__dirname, '..', '..', 'dist', 'bench');

function run(script: string, args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [path.join(dist, script), ...args], { encoding: 'utf8', timeout: 20_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const scripts = ['chaos-vs-etcd.js', 'e2e.js', 'failover.js', 'raft.js', 'scale.js', 'vs-etcd.js', 'warmup.js', 'fig16/main.js'];

test('--help prints the usage and runs nothing', () => {
  for (const script of scripts) {
    const r = run(script, ['--help']);
    expect([script, r.status, r.stdout]).toEqual([script, 0, expect.stringContaining(`usage: node dist/bench/${script}`) as unknown]);
  }
});

test('an unknown flag, a missing value or a value out of range is refused with exit status 2', () => {
  for (const script of scripts) {
    const unknown = run(script, ['--secnds', '3']);
    expect([script, unknown.status, unknown.stderr]).toEqual([script, 2, expect.stringContaining('Unknown argument "--secnds"') as unknown]);
  }
  const missing = run('chaos-vs-etcd.js', ['--rounds']);
  expect([missing.status, missing.stderr]).toEqual([2, expect.stringContaining('--rounds needs a value') as unknown]);
  const notNumber = run('warmup.js', ['--phase-ms', 'fast']);
  expect([notNumber.status, notNumber.stderr]).toEqual([2, expect.stringContaining('--phase-ms must be a positive number, not "fast"') as unknown]);
  const settle = run('vs-etcd.js', ['--settle', '-1']);
  expect([settle.status, settle.stderr]).toEqual([2, expect.stringContaining('--settle must be a number of at least 0, not "-1"') as unknown]);
  const emptyWarmup = run('vs-etcd.js', ['--warmup', '']);
  expect([emptyWarmup.status, emptyWarmup.stderr]).toEqual([2, expect.stringContaining('--warmup must be a number of at least 0, not ""') as unknown]);
  const snapshots = run('vs-etcd.js', ['--snapshot-count', '0']);
  expect([snapshots.status, snapshots.stderr]).toEqual([2, expect.stringContaining('--snapshot-count must be a positive number, not "0"') as unknown]);
});
