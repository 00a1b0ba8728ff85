// The coordination recipes (kvstore/recipes/) on a real three-member cluster.

import { ConfigValue, WatchedConfig, watchConfig } from '../../kvstore/recipes/config';
import { TestCluster, waitFor } from './harness';

describe('recipes on a three-member cluster', () => {
  let c: TestCluster;
  beforeAll(async () => {
    c = await TestCluster.start(3);
  });
  afterAll(async () => {
    await c.destroy();
  });

  test('a watched config value sees every change, in order and once, across a restart of the member it reads from', async () => {
    const writer = c.client([1]);
    const initial = await writer.put('config/limit', '10');
    // The reader talks to member 2 first; member 1 is where it goes while member 2 is down.
    const reader = c.client([2, 1]);
    const abort = new AbortController();
    const seen: ConfigValue[] = [];
    const reading = (async () => {
      for await (const update of watchConfig(reader, 'config/limit', { signal: abort.signal })) seen.push(update);
    })();
    await waitFor('the first read', () => (seen.length >= 1 ? true : undefined));

    const expected: ConfigValue[] = [{ value: '10', revision: initial.revision }];
    const change = async (value: string | null): Promise<void> => {
      const revision = value === null ? (await writer.txn({ success: [{ op: 'delete', key: 'config/limit' }] })).revision : (await writer.put('config/limit', value)).revision;
      expected.push({ value, revision });
      // Writes to other keys must not show up.
      await writer.put('config/other', String(revision));
    };
    for (let i = 11; i < 16; i++) await change(String(i));
    await waitFor('the changes before the restart', () => (seen.length >= expected.length ? true : undefined));
    await c.stop(2, 'SIGKILL');
    for (let i = 16; i < 20; i++) await change(String(i));
    await change(null);
    c.spawn(2);
    await c.waitHealthy([2]);
    await change('20');
    await waitFor('every change', () => (seen.length >= expected.length ? true : undefined), 30_000);
    abort.abort();
    await reading;
    expect(seen).toEqual(expected);
  }, 60_000);

  test('WatchedConfig keeps the latest value and tells each change', async () => {
    const writer = c.client([1]);
    const heard: (string | null)[] = [];
    const config = await WatchedConfig.open(c.client([3]), 'config/absent', { onChange: (v) => heard.push(v.value) });
    expect(config.current.value).toBeNull();
    await writer.put('config/absent', 'on');
    const { revision } = await writer.put('config/absent', 'off');
    await waitFor('the second change', () => (config.current.revision === revision ? true : undefined));
    config.close();
    expect(heard).toEqual([null, 'on', 'off']);
    expect(config.current).toEqual({ value: 'off', revision });
  }, 30_000);
});
