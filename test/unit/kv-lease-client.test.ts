// The client's lease keeper against a scripted server: a keepalive at once and then every third of the TTL, `lost`
// with LeaseNotFound when the cluster says the lease is gone, with the last failure once no keepalive succeeded
// within the TTL (counted from the sending of the last good one, never earlier), and silence after stop().

import http from 'node:http';
import { AddressInfo } from 'node:net';
import { KvClient } from '../../kvstore/client';
import { KvError } from '../../kvstore/errors';

type Answer = 'ok' | 'gone' | 'unavailable';

describe('the client keeps a lease alive', () => {
  let server: http.Server;
  let url = '';
  let answer: Answer = 'ok';
  let renewals: { at: number; answer: Answer }[] = [];
  beforeAll(async () => {
    server = http.createServer((req, res) => {
      req.resume();
      if (req.method !== 'POST' || req.url !== '/lease/7/keepalive') {
        res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":{"code":"RouteNotFound","message":"no"}}');
        return;
      }
      renewals.push({ at: Date.now(), answer });
      if (answer === 'ok') res.writeHead(200, { 'content-type': 'application/json' }).end('{"id":7,"ttl":1}');
      else if (answer === 'gone') res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":{"code":"LeaseNotFound","message":"Lease 7 not found"}}');
      else res.writeHead(503, { 'content-type': 'application/json' }).end('{"error":{"code":"NoLeader","message":"No leader is known yet"}}');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });
  beforeEach(() => {
    answer = 'ok';
    renewals = [];
  });

  async function until(what: string, check: () => boolean, timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!check()) {
      if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  test('renews at once, then every third of the TTL, until stopped; stop() leaves lost pending', async () => {
    const started = Date.now();
    const keeper = new KvClient([url]).keepAlive(7);
    let lost = false;
    void keeper.lost.then(() => {
      lost = true;
    });
    await until('four renewals', () => renewals.length >= 4);
    keeper.stop();
    const count = renewals.length;
    expect((renewals[0]?.at ?? Infinity) - started).toBeLessThan(200);
    for (let i = 1; i < renewals.length; i++) expect((renewals[i]?.at ?? 0) - (renewals[i - 1]?.at ?? 0)).toBeGreaterThanOrEqual(300);
    // Nothing more goes out after stop(), and nothing is reported lost.
    await until('a TTL after stop', () => Date.now() - started > 2500);
    expect(renewals.length).toBe(count);
    expect(lost).toBe(false);
  });

  test('lost resolves with LeaseNotFound as soon as the cluster says the lease is gone', async () => {
    const keeper = new KvClient([url]).keepAlive(7);
    await until('the first renewal', () => renewals.length >= 1);
    answer = 'gone';
    const err = await keeper.lost;
    expect(err).toBeInstanceOf(KvError);
    expect(err.code).toBe('LeaseNotFound');
    const count = renewals.length;
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(renewals.length).toBe(count);
  });

  test('lost resolves with the last failure once no renewal succeeded within the TTL, not before', async () => {
    const keeper = new KvClient([url], { timeoutMs: 3000 }).keepAlive(7);
    await until('the first renewal', () => renewals.length >= 1);
    answer = 'unavailable';
    const lastGood = renewals.filter((r) => r.answer === 'ok').pop()?.at ?? 0;
    const err = await keeper.lost;
    const at = Date.now();
    expect(err.code).toBe('NoLeader');
    expect(err.message).toMatch(/could not be renewed before it expired/);
    // The TTL (1 s) counts from the sending of the last good renewal, which was before the server logged it.
    expect(at - lastGood).toBeGreaterThanOrEqual(1000 - 50);
    expect(at - lastGood).toBeLessThan(2500);
    expect(renewals.filter((r) => r.answer === 'unavailable').length).toBeGreaterThan(1);
  });

  test('remainingMs vouches for nothing before the first answer, then for the TTL from the last good send, and 0 once lost', async () => {
    answer = 'unavailable';
    const keeper = new KvClient([url], { timeoutMs: 3000 }).keepAlive(7);
    await until('a refused renewal', () => renewals.length >= 1);
    expect(keeper.remainingMs()).toBe(0);
    answer = 'ok';
    await until('a vouched lease', () => keeper.remainingMs() > 0);
    // Every good renewal was sent before the server logged it, so none vouches past the last one logged + TTL.
    const lastLogged = renewals.filter((r) => r.answer === 'ok').pop()?.at ?? 0;
    expect(keeper.remainingMs()).toBeLessThanOrEqual(1000 - (Date.now() - lastLogged) + 5);
    answer = 'gone';
    await keeper.lost;
    expect(keeper.remainingMs()).toBe(0);
  });

  test('an aborted signal stops the keeper', async () => {
    const abort = new AbortController();
    new KvClient([url]).keepAlive(7, { signal: abort.signal });
    await until('the first renewal', () => renewals.length >= 1);
    abort.abort();
    const count = renewals.length;
    await new Promise((resolve) => setTimeout(resolve, 800));
    expect(renewals.length).toBe(count);
  });

  test('a lease ID that is not a positive integer is refused before anything is sent', async () => {
    await expect(new KvClient([url]).keepAliveOnce(0)).rejects.toMatchObject({ code: 'BadRequest' });
    await expect(new KvClient([url]).revokeLease(1.5)).rejects.toMatchObject({ code: 'BadRequest' });
    expect(renewals).toEqual([]);
  });
});
