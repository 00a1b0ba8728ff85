// Bad input gets a 4xx that names the problem, changes nothing, and leaves the member serving. Peer requests from
// another cluster or from a stranger, and damaged frames, are refused before anything reaches Raft.

import http from 'node:http';
import { encodeMessage } from '../../raft/codec';
import { MessageType, newMessage } from '../../raft/types';
import { encodeFrames } from '../../transport/framing';
import { TestCluster, waitFor } from './harness';

// Opens a peer stream by hand and writes `frames` into it if it is accepted; resolves with the HTTP status once the
// member has refused the stream or closed it.
function openStream(port: number, headers: Record<string, string>, frames: Buffer): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: '/raft/stream', method: 'GET', agent: false, headers: { connection: 'Upgrade', upgrade: 'tsraft-stream/1', ...headers } });
    req.on('upgrade', (res, socket) => {
      socket.on('error', () => undefined);
      socket.on('close', () => resolve(res.statusCode ?? 0));
      // Read (and discard) the keepalives, or the end of the stream would wait behind them unseen.
      socket.resume();
      socket.write(frames);
    });
    req.on('response', (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end();
  });
}

interface Answer {
  status: number;
  code: string;
  message: string;
  headers: Headers;
}

describe('bad input', () => {
  let c: TestCluster;
  let commitBefore = 0;
  beforeAll(async () => {
    c = await TestCluster.start(3, ['--max-value-bytes', '1024']);
    await c.client([1]).put('existing', 'value');
    // Wait until the members' own announcements are in, so the log is quiet from here on.
    await waitFor('client URLs announced', async () => ((await c.client([1]).members()).members.every((m) => m.clientURL !== '') ? true : undefined));
    commitBefore = Number((await c.status(1)).commit);
  });
  afterAll(async () => {
    await c.destroy();
  });

  async function ask(method: string, path: string, body?: string | Buffer, headers: Record<string, string> = {}): Promise<Answer> {
    const res = await fetch(`${c.url(1)}${path}`, { method, body, headers });
    const text = await res.text();
    let code = '';
    let message = '';
    try {
      const json = JSON.parse(text) as { error?: { code?: string; message?: string } };
      code = json.error?.code ?? '';
      message = json.error?.message ?? '';
    } catch {
      // Not JSON: leave code empty so the assertion names the status.
    }
    return { status: res.status, code, message, headers: res.headers };
  }

  const cases: [string, string, string, string | undefined, number, string, RegExp][] = [
    ['empty key', 'PUT', '/kv/', 'v', 400, 'KeyEmpty', /empty/],
    ['key longer than 4096 bytes', 'PUT', `/kv/${'k'.repeat(4097)}`, 'v', 414, 'KeyTooLong', /4097 bytes/],
    ['value larger than the limit', 'PUT', '/kv/big', 'x'.repeat(2000), 413, 'ValueTooLarge', /size limit/],
    ['limit that is not a number', 'GET', '/kv?limit=abc', undefined, 400, 'BadRequest', /limit/],
    ['limit of zero', 'GET', '/kv?limit=0', undefined, 400, 'BadRequest', /limit/],
    ['unknown consistency', 'GET', '/kv/existing?consistency=eventual', undefined, 400, 'BadRequest', /consistency/],
    ['repeated query parameter', 'GET', '/kv?prefix=a&prefix=b', undefined, 400, 'BadRequest', /once/],
    ['wrong method on a key', 'PATCH', '/kv/existing', 'v', 405, 'MethodNotAllowed', /PATCH/],
    ['wrong method on the listing', 'POST', '/kv', 'v', 405, 'MethodNotAllowed', /POST/],
    ['unknown route', 'GET', '/nope', undefined, 404, 'RouteNotFound', /nope/],
    ['missing key', 'GET', '/kv/absent', undefined, 404, 'KeyNotFound', /absent/],
    ['member body that is not JSON', 'POST', '/members', '{nope', 400, 'BadRequest', /JSON/],
    ['member without a peer URL', 'POST', '/members', '{}', 400, 'BadRequest', /peerURL/],
    ['member peer URL that is not http', 'POST', '/members', '{"peerURL":"ftp://x:1"}', 400, 'BadRequest', /http/],
    ['member ID that is not a number', 'POST', '/members/abc/promote', undefined, 400, 'BadRequest', /positive integer/],
    ['removal of an unknown member', 'DELETE', '/members/999', undefined, 404, 'MemberNotFound', /999/],
    ['promotion of a voter', 'POST', '/members/2/promote', undefined, 400, 'BadRequest', /already a voter/],
    ['transfer to a stranger', 'POST', '/leader/transfer', '{"to":42}', 400, 'BadRequest', /42/],
    ['bad percent-encoding', 'GET', '/kv/%E0%A4%A', undefined, 400, 'BadRequest', /./],
  ];

  test.each(cases)('%s', async (_name, method, path, body, status, code, message) => {
    const answer = await ask(method, path, body, body?.startsWith('{') === true ? { 'content-type': 'application/json' } : {});
    expect([answer.status, answer.code]).toEqual([status, code]);
    expect(answer.message).toMatch(message);
  });

  test('a method not allowed names the allowed ones', async () => {
    expect((await ask('PATCH', '/kv/existing', 'v')).headers.get('allow')).toBe('GET, PUT, DELETE');
  });

  test('peer streams from another cluster or a stranger, or with damaged frames, are refused', async () => {
    const leader = await c.leader();
    const target = [1, 2, 3].find((id) => id !== leader) ?? 1;
    const status = await c.status(target);
    const clusterId = String(status.clusterId);
    const port = Number(new URL(c.peerUrl(target)).port);
    // A heartbeat with a huge term: were it stepped, the target would jump to that term.
    const msg = newMessage({ type: MessageType.MsgHeartbeat, from: leader, to: target, term: 1_000_000 });
    const good = { 'x-tsraft-cluster-id': clusterId, 'x-tsraft-from': String(leader), 'x-tsraft-to': String(target) };
    expect(await openStream(port, { ...good, 'x-tsraft-cluster-id': 'abcdef' }, encodeFrames([msg]))).toBe(412);
    expect(await openStream(port, { ...good, 'x-tsraft-from': '99' }, encodeFrames([msg]))).toBe(403);
    expect(await openStream(port, { ...good, 'x-tsraft-to': '99' }, encodeFrames([msg]))).toBe(421);
    expect(await openStream(port, {}, encodeFrames([msg]))).toBe(412);
    // Accepted streams whose frames are damaged, or claim another sender, are closed without stepping anything.
    expect(await openStream(port, good, Buffer.from([0x05, 0xff, 0xff, 0xff, 0xff, 0xff]))).toBe(101);
    const forged = newMessage({ type: MessageType.MsgHeartbeat, from: 99, to: target, term: 1_000_000 });
    expect(await openStream(port, good, encodeFrames([forged]))).toBe(101);
    const snapshot = await fetch(`${c.peerUrl(target)}/raft/snapshot`, { method: 'POST', body: encodeMessage(msg), headers: { ...good, 'x-tsraft-cluster-id': 'abcdef' } });
    expect(snapshot.status).toBe(412);
    expect(Number((await c.status(target)).term)).toBe(Number(status.term));
  });

  test('nothing changed and every member still serves', async () => {
    await c.waitHealthy([1, 2, 3]);
    expect(Number((await c.status(1)).commit)).toBe(commitBefore);
    expect(await c.client([2]).list('')).toEqual([{ key: 'existing', value: 'value' }]);
  });
});
