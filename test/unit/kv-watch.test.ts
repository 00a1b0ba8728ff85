// Watches over a real HTTP connection to a store in this process: replay from a past revision, filtering by key and
// prefix, a transaction's events together, and a reader too slow to keep up cancelled with a reason while the
// member's buffer stays bounded.

import http from 'node:http';
import { AddressInfo } from 'node:net';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { CommandOp, encodeTxnValue } from '../../kvstore/command';
import { KvStore } from '../../kvstore/kv';
import { WatchLimits, WatchSpec, defaultWatchLimits, streamWatch } from '../../kvstore/watch';

interface Sse {
  event: string;
  id?: string;
  data: Record<string, unknown>;
}

const put = (key: string, value: string | Buffer) => ({ op: CommandOp.Put, epoch: 1, seq: 1, key, value: Buffer.from(value) });

async function serve(kv: KvStore, spec: WatchSpec, limits: WatchLimits = defaultWatchLimits): Promise<{ url: string; server: http.Server }> {
  const server = http.createServer((req, res) => streamWatch(kv, spec, req, res, limits));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, server };
}

function parse(text: string): Sse[] {
  return text
    .split('\n\n')
    .filter((b) => b.includes('data: '))
    .map((block) => {
      const fields = new Map(block.split('\n').map((l) => [l.slice(0, l.indexOf(': ')), l.slice(l.indexOf(': ') + 2)]));
      return { event: fields.get('event') ?? 'message', id: fields.get('id'), data: JSON.parse(fields.get('data') ?? '{}') as Record<string, unknown> };
    });
}

// Reads the stream until `enough` says so, then closes it.
function read(url: string, enough: (msgs: Sse[]) => boolean): Promise<Sse[]> {
  return new Promise((resolve, reject) => {
    http.get(url, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        text += chunk;
        const msgs = parse(text);
        if (enough(msgs)) {
          res.destroy();
          resolve(msgs);
        }
      });
      res.on('end', () => resolve(parse(text)));
    }).on('error', reject);
  });
}

// A watcher that reads nothing for `pauseMs`, as a slow client would, then reads the stream to its end.
function readAfterPause(url: string, pauseMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    http.get(url, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.pause();
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve(text));
      setTimeout(() => res.resume(), pauseMs);
    }).on('error', reject);
  });
}

// `n` puts of 32 KiB to key 'big', letting the server write between them.
async function putBig(kv: KvStore, n: number): Promise<void> {
  const value = Buffer.alloc(32 * 1024, 'v');
  for (let i = 0; i < n; i++) {
    kv.apply(put('big', value));
    await yieldToLoop();
  }
}

describe('watch', () => {
  test('replays history from a past revision, then follows new changes, only for the watched key', async () => {
    const kv = new KvStore();
    kv.apply(put('a', '1')); // 2
    kv.apply(put('b', 'x')); // 3
    kv.apply(put('a', '2')); // 4
    const { url, server } = await serve(kv, { key: 'a', startRevision: 2 });
    const got = read(url, (m) => m.filter((x) => x.event === 'change').length >= 3);
    await new Promise((r) => setTimeout(r, 50));
    kv.apply(put('b', 'y')); // 5
    kv.apply({ op: CommandOp.Delete, epoch: 1, seq: 1, key: 'a', value: Buffer.alloc(0) }); // 6
    const msgs = await got;
    server.close();
    expect(msgs[0]?.event).toBe('created');
    const changes = msgs.filter((m) => m.event === 'change');
    expect(changes.map((m) => m.id)).toEqual(['2', '4', '6']);
    expect(changes.map((m) => m.data.events)).toEqual([
      [{ type: 'put', key: 'a', value: '1', createRevision: 2, modRevision: 2, version: 1, lease: 0 }],
      [{ type: 'put', key: 'a', value: '2', createRevision: 2, modRevision: 4, version: 2, lease: 0 }],
      [{ type: 'delete', key: 'a', createRevision: 0, modRevision: 6, version: 0 }],
    ]);
  });

  test('a prefix watch gets a transaction as one revision with all its events', async () => {
    const kv = new KvStore();
    const { url, server } = await serve(kv, { prefix: 'cfg/' });
    const got = read(url, (m) => m.some((x) => x.event === 'change'));
    await new Promise((r) => setTimeout(r, 50));
    kv.apply(put('other', 'z'));
    const txn = { compares: [], success: [{ op: 'put' as const, key: 'cfg/a', value: '1' }, { op: 'put' as const, key: 'cfg/b', value: '2' }, { op: 'put' as const, key: 'x', value: '3' }], failure: [] };
    kv.apply({ op: CommandOp.Txn, epoch: 1, seq: 1, key: '', value: encodeTxnValue(txn) });
    const msgs = await got;
    server.close();
    const change = msgs.find((m) => m.event === 'change');
    expect(change?.id).toBe('3');
    expect((change?.data.events as { key: string }[]).map((e) => e.key)).toEqual(['cfg/a', 'cfg/b']);
  });

  test('a reader that stops reading is cancelled as SlowWatcher once it is far behind; what it got has no gap', async () => {
    const kv = new KvStore();
    const limits: WatchLimits = { maxBufferedBytes: 64 * 1024, maxLagRevisions: 50, keepaliveMs: 60_000 };
    const { url, server } = await serve(kv, { key: 'big', startRevision: 2 }, limits);
    const ended = readAfterPause(url, 2000);
    await putBig(kv, 400);
    const msgs = parse(await ended);
    server.close();
    const last = msgs[msgs.length - 1];
    expect(last?.event).toBe('cancel');
    expect(last?.data).toMatchObject({ error: { code: 'SlowWatcher' } });
    const ids = msgs.filter((m) => m.event === 'change').map((m) => Number(m.id));
    expect(ids.length).toBeGreaterThan(0);
    expect(ids.length).toBeLessThan(400);
    expect(ids).toEqual(ids.map((_, i) => i + 2));
    expect((last?.data.error as { resumeRevision: number }).resumeRevision).toBe(ids.length + 2);
  }, 20_000);

  test('a watcher whose next revision is compacted away is cancelled with the compaction revision', async () => {
    const kv = new KvStore();
    const limits: WatchLimits = { maxBufferedBytes: 16 * 1024, maxLagRevisions: 1_000_000, keepaliveMs: 60_000 };
    const { url, server } = await serve(kv, { key: 'big', startRevision: 2 }, limits);
    const ended = readAfterPause(url, 2000);
    await putBig(kv, 400);
    kv.compact(kv.revision);
    kv.apply(put('big', 'last'));
    const last = parse(await ended).pop();
    server.close();
    expect(last?.event).toBe('cancel');
    expect(last?.data).toMatchObject({ error: { code: 'Compacted', compactRevision: 401 } });
  }, 20_000);
});
