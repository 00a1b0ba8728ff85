// Listen and advertise URLs: members listen on private peer ports and advertise the ports of proxies in front of
// them; the membership stores the advertised URLs, every peer message goes through a proxy, and a member that joins
// later announces the client URL it was told to advertise.

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { KvClient } from '../../kvstore/client';
import { cliPath, freePort, repoRoot, waitFor } from '../integration/harness';
import { ChaosCluster } from './cluster';
import { Links } from './proxy';

describe('--advertise-peer and --advertise-client', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsraft-advertise-'));
  const links = new Links(() => 0.5);
  const c = new ChaosCluster(
    { dir, distDir: path.join(repoRoot, 'dist'), tickMs: 50, electionTicks: 10, requestTimeoutMs: 3000, snapshotCount: 10_000, log: () => undefined },
    links,
  );
  beforeAll(async () => {
    await c.bootstrap(3);
  });
  afterAll(async () => {
    await c.destroy();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('the membership holds the advertised peer URLs and peer traffic goes through them', async () => {
    const list = await new KvClient([c.clientURL(1)]).members();
    expect(list.members.map((m) => m.peerURL)).toEqual([c.peerURL(1), c.peerURL(2), c.peerURL(3)]);
    for (const m of list.members) expect(m.peerURL).not.toBe(`http://127.0.0.1:${c.member(m.id).listenPeerPort}`);
    await new KvClient([c.clientURL(1)]).put('through-proxies', 'yes');
    for (const id of [1, 2, 3]) expect(c.member(id).proxy.accepted).toBeGreaterThan(0);
  });

  test('cutting the links of one member at its proxies isolates it, healing them lets it catch up', async () => {
    const leader = await waitFor('a leader', () => c.leader());
    const isolated = leader === 3 ? 2 : 3;
    for (const other of [1, 2, 3].filter((id) => id !== isolated)) {
      links.set(isolated, other, { blocked: true });
      links.set(other, isolated, { blocked: true });
    }
    await new KvClient([c.clientURL(leader)]).put('while-isolated', 'v1');
    const lagging = new KvClient([c.clientURL(isolated)], { timeoutMs: 2000 });
    // Give the cut member time it would need to receive the entry if anything got through.
    const deadline = Date.now() + 1500;
    while (Date.now() < deadline) {
      expect(await lagging.get('while-isolated', 'serializable')).toBeNull();
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    links.healAll();
    await waitFor('the isolated member to catch up', async () => ((await lagging.get('while-isolated', 'serializable'))?.toString() === 'v1' ? true : undefined));
  });

  test('a member that joins announces its advertised client URL and advertised peer URL', async () => {
    await new KvClient([c.clientURL(1)]).put('before-join', 'yes');
    const m = await c.allocate(4);
    const advertisedClient = `http://127.0.0.1:${await freePort()}`;
    c.spawn(4, ['--join', c.clientURL(1), '--advertise-client', advertisedClient]);
    await c.waitHealthy([4], 60_000).catch((err: unknown) => {
      throw new Error(`${err instanceof Error ? err.message : String(err)}; member 4's log:\n${c.log(4)}`);
    });
    await waitFor('member 4 to announce its client URL', async () => {
      const four = (await new KvClient([c.clientURL(2)]).members()).members.find((x) => x.id === 4);
      return four?.clientURL === advertisedClient ? four : undefined;
    });
    const four = (await new KvClient([c.clientURL(2)]).members()).members.find((x) => x.id === 4);
    expect(four?.peerURL).toBe(c.peerURL(4));
    expect(m.proxy.accepted).toBeGreaterThan(0);
    expect((await new KvClient([c.clientURL(4)]).get('before-join'))?.toString()).toBe('yes');
  });

  test('a bad advertise URL or one that contradicts the initial cluster is refused with a message naming the flag', () => {
    const data = path.join(dir, 'refused');
    const bad = spawnSync(process.execPath, [cliPath, 'serve', '--id', '1', '--data-dir', data, '--initial-cluster', '1=http://127.0.0.1:1', '--advertise-peer', 'not-a-url'], { encoding: 'utf8' });
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toMatch(/--advertise-peer is not a URL/);
    const mismatch = spawnSync(
      process.execPath,
      [cliPath, 'serve', '--id', '1', '--data-dir', data, '--listen-peer', 'http://127.0.0.1:1', '--initial-cluster', '1=http://127.0.0.1:1', '--advertise-peer', 'http://127.0.0.1:2'],
      { encoding: 'utf8' },
    );
    expect(mismatch.status).not.toBe(0);
    expect(mismatch.stderr).toMatch(/--advertise-peer is http:\/\/127\.0\.0\.1:2/);
    expect(fs.existsSync(data)).toBe(false);
  });
});
