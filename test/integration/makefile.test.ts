// The path a new user takes: `make run-all`, put, get, stop a member, put, start it again, read from it. Ports and
// directories are make variables, so the test uses free ports and a temporary directory.

import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort, repoRoot } from './harness';

describe('Makefile targets', () => {
  let vars: string[] = [];
  let runDir = '';

  function make(...args: string[]): string {
    return execFileSync('make', ['--no-print-directory', ...args, ...vars], { cwd: repoRoot, encoding: 'utf8', timeout: 120_000 });
  }

  beforeAll(async () => {
    runDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsraft-make-'));
    const ports: number[] = [];
    for (let i = 0; i < 6; i++) ports.push(await freePort());
    vars = [
      `RUN_DIR=${runDir}`,
      `NODE1_CLIENT=${ports[0]}`, `NODE1_PEER=${ports[1]}`,
      `NODE2_CLIENT=${ports[2]}`, `NODE2_PEER=${ports[3]}`,
      `NODE3_CLIENT=${ports[4]}`, `NODE3_PEER=${ports[5]}`,
      'SERVE_ARGS=--tick-ms 50',
    ];
  });
  afterAll(() => {
    make('stop-all');
    make('clean');
  });

  test('run-all, put, get, stop-node2, put, start-node2, get from node 2', () => {
    make('run-all');
    for (const id of [1, 2, 3]) expect(fs.existsSync(path.join(runDir, `node${id}.pid`))).toBe(true);
    const [p1, p2, p3] = [vars[1], vars[3], vars[5]].map((v) => (v ?? '').split('=')[1] ?? '');

    make('put-node', `PORT=${p1}`, 'DATA=greeting=hello world');
    expect(make('get-node', `PORT=${p3}`, 'DATA=greeting')).toBe('hello world');

    expect(make('stop-node2')).toMatch(/node 2 stopped/);
    make('put-node', `PORT=${p1}`, 'DATA=greeting=while node 2 was down');
    make('start-node2');
    // get-node on node 2 reads linearizably, so it waits for node 2 to rejoin and catch up; retry until it has.
    let value = '';
    for (let attempt = 0; attempt < 100 && value !== 'while node 2 was down'; attempt++) {
      try {
        value = make('get-node', `PORT=${p2}`, 'DATA=greeting');
      } catch {
        value = '';
      }
    }
    expect(value).toBe('while node 2 was down');
    expect(make('status')).toMatch(/leader/);
    expect(fs.readFileSync(path.join(runDir, 'node2.log'), 'utf8')).toMatch(/restarting member 2/);
  });

  test('clean removes the run directory and the data', () => {
    make('stop-all');
    make('clean');
    expect(fs.existsSync(runDir)).toBe(false);
  });
});
