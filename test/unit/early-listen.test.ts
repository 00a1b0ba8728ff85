// Ports bound before the member is ready (kvstore/early-listen.ts): what arrives meanwhile waits and is answered,
// in order, once the handlers are installed; what gave up waiting is not carried out; close() lets nothing hang.

import http from 'node:http';
import net from 'node:net';
import { EarlyServer } from '../../kvstore/early-listen';

function get(port: number, path: string, timeoutMs = 5000): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, agent: false, timeout: timeoutMs }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString('utf8')));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
  });
}

// Resolves once `server` holds `n` requests (they arrive over separate connections, in no promised order).
async function waitingFor(server: EarlyServer, n: number): Promise<void> {
  for (let i = 0; i < 200 && server.waiting < n; i++) await new Promise((resolve) => setTimeout(resolve, 5));
  expect(server.waiting).toBe(n);
}

describe('EarlyServer', () => {
  test('holds requests until serve(), then answers them oldest first', async () => {
    const server = await EarlyServer.listen('http://127.0.0.1:0');
    try {
      const first = get(server.port, '/a');
      await waitingFor(server, 1);
      const second = get(server.port, '/b');
      await waitingFor(server, 2);
      const order: string[] = [];
      server.serve((req, res) => {
        order.push(req.url ?? '');
        res.end(`answered ${req.url ?? ''}`);
      });
      expect(order).toEqual(['/a', '/b']);
      expect(await first).toEqual({ status: 200, body: 'answered /a' });
      expect(await second).toEqual({ status: 200, body: 'answered /b' });
      expect((await get(server.port, '/c')).body).toBe('answered /c');
      expect(server.waiting).toBe(0);
    } finally {
      await server.close();
    }
  });

  test('a request whose client gave up while it waited is not carried out', async () => {
    const server = await EarlyServer.listen('http://127.0.0.1:0');
    try {
      await expect(get(server.port, '/gave-up', 100)).rejects.toThrow(/timed out/);
      const kept = get(server.port, '/kept');
      await waitingFor(server, 2);
      const handled: string[] = [];
      server.serve((req, res) => {
        handled.push(req.url ?? '');
        res.end('ok');
      });
      expect((await kept).body).toBe('ok');
      expect(handled).toEqual(['/kept']);
    } finally {
      await server.close();
    }
  });

  test('hands a held stream upgrade to the upgrade handler', async () => {
    const server = await EarlyServer.listen('http://127.0.0.1:0');
    try {
      const socket = net.connect(server.port, '127.0.0.1');
      const reply = new Promise<string>((resolve) => socket.once('data', (d: Buffer) => resolve(d.toString('utf8'))));
      socket.write('GET /stream HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: test/1\r\n\r\n');
      await waitingFor(server, 1);
      server.serve(
        (_req, res) => res.end(),
        (_req, s) => s.end('HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: test/1\r\n\r\n'),
      );
      expect(await reply).toMatch(/^HTTP\/1.1 101/);
      socket.destroy();
    } finally {
      await server.close();
    }
  });

  test('close() disconnects what waits, and a taken port is refused with its address', async () => {
    const server = await EarlyServer.listen('http://127.0.0.1:0');
    const waiting = get(server.port, '/never');
    await waitingFor(server, 1);
    const taken = EarlyServer.listen(`http://127.0.0.1:${server.port}`);
    await expect(taken).rejects.toMatchObject({ code: 'BadRequest', message: expect.stringMatching(new RegExp(`Cannot listen on http://127.0.0.1:${server.port}: .*EADDRINUSE`)) as unknown as string });
    await server.close();
    await expect(waiting).rejects.toThrow();
  });
});
