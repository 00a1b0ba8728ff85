// The client API's hot path (kvstore/hotpath.ts) answers the plain single-key GET, PUT and DELETE and the
// monitoring routes without express, and must answer them exactly as the express app does. A query the API ignores
// (`?_=1`) sends the same request to the express app (the hot path takes no query but `consistency=`), so each step
// below runs twice, on two keys: once plain, once through express, and the answers must match in status, content
// type, headers and body, up to the key's name and the revision numbers. And a member that has served only those
// never loads express (its debug log says when it does).

import { TestCluster } from './harness';

interface Seen {
  status: number;
  contentType: string | null;
  revisionHeaders: string[];
  body: string;
}

const steps: { method: string; body?: string }[] = [
  { method: 'PUT', body: 'one' },
  { method: 'PUT', body: 'two' },
  { method: 'GET' },
  { method: 'DELETE' },
  { method: 'DELETE' },
  { method: 'GET' },
];

describe('the hot path', () => {
  let c: TestCluster;
  beforeAll(async () => {
    c = await TestCluster.start(1, ['--log-level', 'debug']);
  }, 30_000);
  afterAll(async () => {
    await c.destroy();
  });

  const loadedExpress = (): boolean => c.log(1).includes('loading the full client API');

  async function run(key: string, suffix: string): Promise<Seen[]> {
    const seen: Seen[] = [];
    for (const step of steps) {
      const res = await fetch(`${c.url(1)}/kv/${key}${suffix}`, { method: step.method, ...(step.body === undefined ? {} : { body: step.body }) });
      const text = await res.text();
      seen.push({
        status: res.status,
        contentType: res.headers.get('content-type'),
        revisionHeaders: [...res.headers.keys()].filter((h) => h.startsWith('x-tsraft-')).sort(),
        body: text.replaceAll(key, 'KEY').replace(/"revision":[0-9]+/g, '"revision":R'),
      });
    }
    return seen;
  }

  test('answers PUT, GET and DELETE as the express app does, found or not', async () => {
    const plain = await run('plain', '');
    for (const route of ['/status', '/health']) expect((await fetch(`${c.url(1)}${route}`)).status).toBe(200);
    expect(loadedExpress()).toBe(false);
    const full = await run('full', '?_=1');
    expect(loadedExpress()).toBe(true);
    expect(plain).toEqual(full);
    // And the steps did what they say: created, replaced, read, deleted, then not found twice.
    expect(plain.map((s) => s.status)).toEqual([201, 200, 200, 200, 404, 404]);
    expect(plain[3]?.body).toBe('{"key":"KEY","deleted":true,"revision":R}');
    expect(plain[4]?.body).toContain('"code":"KeyNotFound"');
  }, 30_000);

  test('answers GET /status and GET /health as the express app does', async () => {
    for (const route of ['/status', '/health']) {
      const [plain, full] = await Promise.all(['', '?_=1'].map((suffix) => fetch(`${c.url(1)}${route}${suffix}`)));
      if (plain === undefined || full === undefined) throw new Error('no answer');
      expect([plain.status, plain.headers.get('content-type'), plain.headers.get('access-control-allow-origin')]).toEqual([
        full.status,
        full.headers.get('content-type'),
        full.headers.get('access-control-allow-origin'),
      ]);
      const [a, b] = [(await plain.json()) as Record<string, unknown>, (await full.json()) as Record<string, unknown>];
      // The loop's counters move between the two answers; everything else is the same.
      expect({ ...a, counters: null }).toEqual({ ...b, counters: null });
      expect(Object.keys(a)).toEqual(Object.keys(b));
    }
  });
});
