// The client's choice of endpoint: a member that stops answering (paused, partitioned) costs one timeout, after
// which the next call starts elsewhere; the call that timed out there still went on to the other endpoints.

import http from 'node:http';
import { AddressInfo } from 'node:net';
import { KvClient } from '../../kvstore/client';

describe('the client passes over an endpoint that failed', () => {
  const servers: http.Server[] = [];
  // What each scripted member does with a request: answer, refuse (503), or never answer.
  const behaviour: ('ok' | 'unavailable' | 'silent')[] = [];
  const requests: number[][] = [];

  async function member(i: number): Promise<string> {
    requests[i] = [];
    const server = http.createServer((req, res) => {
      req.resume();
      requests[i]?.push(Date.now());
      const b = behaviour[i];
      if (b === 'silent') return;
      if (b === 'ok') res.writeHead(200, { 'content-type': 'application/json' }).end(`{"member":${i}}`);
      else res.writeHead(503, { 'content-type': 'application/json' }).end('{"error":{"code":"NoLeader","message":"No leader is known yet"}}');
    });
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  afterAll(async () => {
    for (const server of servers) {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  test('after a call that failed everywhere, the next starts at the endpoint after the one that timed out', async () => {
    behaviour.push('silent', 'unavailable', 'unavailable');
    const urls = [await member(0), await member(1), await member(2)];
    const client = new KvClient(urls, { timeoutMs: 1500 });
    await expect(client.status()).rejects.toThrow();
    expect(requests[0]?.length).toBeGreaterThan(0);
    expect(requests[1]?.length).toBeGreaterThan(0);
    expect(requests[2]?.length).toBeGreaterThan(0);
    // A leader appears behind member 1: the next call asks it first and does not wait on the silent member.
    behaviour[1] = 'ok';
    const silentBefore = requests[0]?.length;
    expect(await client.status()).toEqual({ member: 1 });
    expect(requests[0]?.length).toBe(silentBefore);
    // It stays there while it answers.
    expect(await client.status()).toEqual({ member: 1 });
    expect(requests[0]?.length).toBe(silentBefore);
  });
});
