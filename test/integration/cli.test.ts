// The `tsraft` command line against a real cluster, and its retry rules against a scripted server: a write is
// retried after a 503 (nothing was proposed) but never after a 504 or a lost connection (the outcome is unknown).

import { execFile } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { TestCluster, cliPath, freePort } from './harness';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function tsraft(endpoints: string, ...args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [cliPath, '--endpoints', endpoints, '--timeout', '3000', ...args], { env: { ...process.env, NO_COLOR: '1' } }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === 'number' ? err.code : 1;
      resolve({ code, stdout, stderr });
    });
  });
}

describe('tsraft command line', () => {
  let c: TestCluster;
  let endpoints = '';
  beforeAll(async () => {
    c = await TestCluster.start(3);
    endpoints = [1, 2, 3].map((id) => c.url(id)).join(',');
  });
  afterAll(async () => {
    await c.destroy();
  });

  test('put, get, list, del, and a missing key exits 1', async () => {
    expect(await tsraft(endpoints, 'put', 'color', 'blue')).toMatchObject({ code: 0, stdout: 'OK (created)\n' });
    expect(await tsraft(endpoints, 'put', 'color', 'green')).toMatchObject({ code: 0, stdout: 'OK\n' });
    expect(await tsraft(c.url(3), 'get', 'color')).toMatchObject({ code: 0, stdout: 'green' });
    expect(await tsraft(c.url(2), 'get', '--serializable', 'color')).toMatchObject({ code: 0 });
    expect(await tsraft(endpoints, 'list', 'co')).toMatchObject({ code: 0, stdout: 'color\tgreen\n' });
    expect(await tsraft(endpoints, 'del', 'color')).toMatchObject({ code: 0, stdout: 'OK\n' });
    const missing = await tsraft(endpoints, 'get', 'color');
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/Key "color" not found/);
  });

  test('members, status and transfer-leader print readable lines', async () => {
    const members = await tsraft(endpoints, 'members');
    expect(members.code).toBe(0);
    expect(members.stdout.split('\n').filter((l) => /^\d\t/.test(l)).length).toBe(3);
    expect(members.stdout).toMatch(/\(leader\)/);
    const status = await tsraft(endpoints, 'status');
    expect(status.code).toBe(0);
    expect(status.stdout.match(/\tleader\t/g)?.length).toBe(1);
    const leader = await c.leader();
    const target = [1, 2, 3].find((id) => id !== leader) ?? 0;
    expect(await tsraft(endpoints, 'transfer-leader', String(target))).toMatchObject({ code: 0, stdout: `leader is now member ${target}\n` });
  });

  test('an endpoint that is down is skipped', async () => {
    const down = `http://127.0.0.1:${await freePort()}`;
    expect(await tsraft(`${down},${c.url(1)}`, 'put', 'skip', 'ok')).toMatchObject({ code: 0 });
    expect(await tsraft(`${down},${c.url(2)}`, 'get', 'skip')).toMatchObject({ code: 0, stdout: 'ok' });
  });
});

describe('tsraft write retries', () => {
  let server: http.Server;
  let url = '';
  let answers: number[] = [];
  let puts = 0;
  let putURLs: string[] = [];

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      req.resume();
      if (req.url === '/members') {
        res.writeHead(503, { 'content-type': 'application/json' }).end('{"error":{"code":"NoLeader","message":"none"}}');
        return;
      }
      puts++;
      putURLs.push(req.url ?? '');
      const status = answers.shift() ?? 201;
      if (status === 0) {
        req.socket.destroy();
        return;
      }
      const code = status === 503 ? 'NoLeader' : status === 504 ? 'OutcomeUnknown' : '';
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(code === '' ? '{"key":"k","created":true}' : `{"error":{"code":"${code}","message":"scripted ${status}"}}`);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });
  beforeEach(() => {
    puts = 0;
    putURLs = [];
  });

  test('after a 503 the write is sent again and succeeds', async () => {
    answers = [503, 201];
    expect(await tsraft(url, 'put', 'k', 'v')).toMatchObject({ code: 0, stdout: 'OK (created)\n' });
    expect(puts).toBe(2);
  });

  test('in a session (the default), a write answered 504 or cut off is sent again with the same client and sequence number', async () => {
    answers = [504, 0, 201];
    expect(await tsraft(url, 'put', 'k', 'v')).toMatchObject({ code: 0, stdout: 'OK (created)\n' });
    expect(puts).toBe(3);
    expect(new Set(putURLs).size).toBe(1);
    expect(putURLs[0]).toMatch(/^\/kv\/k\?client=[0-9a-f-]+&seq=1$/);
  });

  test('without a session, after a 504 the write is not sent again and the command says the outcome is unknown', async () => {
    answers = [504, 201];
    const run = await tsraft(url, '--no-session', 'put', 'k', 'v');
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/scripted 504 \(OutcomeUnknown\)/);
    expect(puts).toBe(1);
  });

  test('without a session, after a connection lost mid-request the write is not sent again', async () => {
    answers = [0, 201];
    const run = await tsraft(url, '--no-session', 'put', 'k', 'v');
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/may or may not have been applied/);
    expect(puts).toBe(1);
  });
});

describe('tsraft serve with a snapshot count of 0', () => {
  test('refuses to start, names the flag, and creates no data directory', async () => {
    const dataDir = path.join(os.tmpdir(), `tsraft-count-${process.pid}`);
    try {
      const [client, peer] = [`http://127.0.0.1:${await freePort()}`, `http://127.0.0.1:${await freePort()}`];
      const run = await tsraft('', 'serve', '--id', '1', '--data-dir', dataDir, '--listen-client', client, '--listen-peer', peer,
        '--initial-cluster', `1=${peer}`, '--snapshot-count', '0');
      expect(run.code).toBe(1);
      expect(run.stderr).toMatch(/--snapshot-count must be a whole number of entries, at least 1, not 0/);
      expect(fs.existsSync(dataDir)).toBe(false);
    } finally {
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

describe('tsraft serve that cannot listen', () => {
  test('names the address, exits 1, and creates no data directory', async () => {
    const taken = http.createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const port = (taken.address() as AddressInfo).port;
    const dataDir = path.join(os.tmpdir(), `tsraft-taken-${process.pid}-${port}`);
    try {
      const peer = `http://127.0.0.1:${await freePort()}`;
      const run = await tsraft('', 'serve', '--id', '1', '--data-dir', dataDir, '--listen-client', `http://127.0.0.1:${port}`,
        '--listen-peer', peer, '--initial-cluster', `1=${peer}`);
      expect(run.code).toBe(1);
      expect(run.stderr).toMatch(new RegExp(`Cannot listen on http://127.0.0.1:${port}: .*EADDRINUSE`));
      expect(fs.existsSync(dataDir)).toBe(false);
    } finally {
      await new Promise((resolve) => taken.close(resolve));
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
