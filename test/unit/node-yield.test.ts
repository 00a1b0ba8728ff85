// A member with a long backlog of committed entries to apply (a restart with a large log) must not hold its thread
// for the whole replay: the Ready loop lets the event loop in between Readys, so peer streams are read, heartbeats
// answered and timers run while it applies. Meanwhile a serializable read waits for the replay: the map is as old
// as the snapshot until then. Real timers: the loop's time slice is measured on the real clock.

import { CommandOp, encodeCommand } from '../../kvstore/command';
import { KvStore } from '../../kvstore/kv';
import { Membership } from '../../kvstore/members';
import { NodeHooks, NodeOptions, RaftNode } from '../../kvstore/node';
import { encodeSnapshotData } from '../../kvstore/snapshot';
import { MemoryStorage } from '../../raft/storage';
import { Entry, EntryType, Snapshot, emptyConfState } from '../../raft/types';
import { RecordingLogger } from '../support/recording_logger';
import { FakePersistence } from './node_fakes';

// A member restarted with `backlog` committed puts in its log after a snapshot, not yet applied.
function restartedWithBacklog(backlog: number): RaftNode {
  const members = new Membership([{ id: 1, peerURL: 'http://n1', clientURL: '', learner: false }]);
  const snapshot: Snapshot = {
    data: encodeSnapshotData(new KvStore(), members),
    metadata: { index: 1, term: 1, confState: { ...emptyConfState(), voters: [1] } },
  };
  const storage = new MemoryStorage();
  storage.applySnapshot(snapshot);
  const entries: Entry[] = [];
  for (let i = 0; i < backlog; i++) {
    const data = encodeCommand({ op: CommandOp.Put, epoch: 1, seq: i + 1, key: `k${i}`, value: Buffer.alloc(100, 0x61) });
    entries.push({ term: 1, index: i + 2, type: EntryType.EntryNormal, data });
  }
  storage.append(entries);
  storage.setHardState({ term: 1, vote: 1, commit: backlog + 1 });

  const opts: NodeOptions = {
    id: 1,
    tickMs: 100,
    electionTicks: 10,
    heartbeatTicks: 1,
    snapshotCount: 1_000_000,
    snapshotCatchup: 5,
    requestTimeoutMs: 1000,
    leaderWaitMs: 0,
    logger: new RecordingLogger(),
    randSeed: 1,
  };
  const hooks: NodeHooks = {
    onPeersChanged: () => undefined,
    send: () => undefined,
    peerReachable: () => true,
    peerCounters: () => ({ peerRequests: 0, peerMessages: 0 }),
    onStopped: () => undefined,
  };
  const disk = new FakePersistence('n1', []);
  return new RaftNode(opts, { storage, persistence: disk, snapshot, members, bootstrap: [] }, hooks);
}

test('a member applying a long committed backlog lets the event loop run between its Readys', async () => {
  // 60,000 committed puts are about 8 MiB: several Readys of up to 1 MiB of committed entries each.
  const backlog = 60_000;
  const node = restartedWithBacklog(backlog);

  // What the event loop sees of the replay each time it gets to run.
  const seen: number[] = [];
  const watch = (): void => {
    seen.push(node.applied);
    if (node.applied < backlog + 1 && !node.isStopped) setImmediate(watch);
  };
  node.start();
  setImmediate(watch);
  const deadline = Date.now() + 30_000;
  while (node.applied < backlog + 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  node.stop();

  expect(node.applied).toBe(backlog + 1);
  expect(node.kv.read(`k${backlog - 1}`)?.value).toEqual(Buffer.alloc(100, 0x61));
  // The event loop ran while the backlog was part applied, not only before and after it.
  expect(seen.some((applied) => applied > 1 && applied < backlog + 1)).toBe(true);
});

test('a serializable read on a restarted member waits until what its log held as committed is applied', async () => {
  const backlog = 20_000;
  const node = restartedWithBacklog(backlog);
  node.start();
  expect(node.replayed).toBe(false);
  const appliedWhenServed = node.localReadBarrier().then(() => node.applied);
  const deadline = Date.now() + 30_000;
  while (!node.replayed && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  // Resolved only once the whole backlog was applied: never with the map as old as the snapshot.
  expect(await appliedWhenServed).toBe(backlog + 1);
  expect(node.kv.read(`k${backlog - 1}`)?.value).toEqual(Buffer.alloc(100, 0x61));
  // From then on it answers at once.
  await node.localReadBarrier();
  node.stop();
});
