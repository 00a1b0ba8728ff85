// Members of the key-value store on a fake disk and a fake network, driven by jest's fake clock.
//
// The RawNode, the Ready loop, the request bookkeeping and the state machine are the real ones; only the durable
// side (`Persistence`) and the transport (`NodeHooks`) are fakes. Both write to one event log, so a test reads the
// order in which a member wrote, synced, released and sent, across members:
//
//   n1 write term=2 vote=2 commit=0 entries=0    n1 sync    n1 synced    n1 send MsgVoteResp->2
//
// Time only moves when a test moves it (`advance`, `waitFor`), one tick at a time, so every run is the same run.

import { MemoryStorage } from '../../raft/storage';
import { Entry, HardState, Message, MessageType, NodeId, Snapshot, emptySnapshot, isEmptyHardState } from '../../raft/types';
import { encodeMemberContext, Member, Membership } from '../../kvstore/members';
import { NodeHooks, NodeOptions, Persistence, RaftNode } from '../../kvstore/node';
import { RecordingLogger } from '../support/recording_logger';

export const TICK_MS = 10;

/**
 * A disk that remembers the order of operations and what is durable. `written` counts the operations that put
 * something on the disk; `durable` is how many of them a completed sync covers. A release while durable < written
 * is recorded in `releasedUnsynced`: it could purge the files a restart needs while the newer state is not yet safe.
 */
export class FakePersistence implements Persistence {
  written = 0;
  durable = 0;
  /** Operations released while some write or snapshot was not yet synced, with what was missing. */
  readonly releasedUnsynced: string[] = [];
  /** When set, sync() waits until `finishSyncs()`. */
  holdSyncs = false;
  /** When set, the next sync rejects with this error. */
  syncError: Error | null = null;
  /** When set, writeSnapshotFile() waits until `finishSnapshotFiles()`. */
  holdSnapshotFiles = false;
  closed = false;
  private held: { covers: number; resolve: () => void; reject: (e: Error) => void }[] = [];
  private heldFiles: (() => void)[] = [];

  constructor(
    private readonly name: string,
    private readonly events: string[],
  ) {}

  saveSnapshot(snap: Snapshot): void {
    this.written++;
    this.events.push(`${this.name} saveSnapshot index=${snap.metadata.index}`);
  }

  // A snapshot file is durable once written (it is flushed before it is renamed into place).
  async writeSnapshotFile(snap: Snapshot, pause: () => Promise<void>): Promise<void> {
    this.events.push(`${this.name} writeSnapshotFile index=${snap.metadata.index}`);
    await pause();
    if (this.holdSnapshotFiles) await new Promise<void>((resolve) => this.heldFiles.push(resolve));
    this.events.push(`${this.name} wroteSnapshotFile index=${snap.metadata.index}`);
  }

  /** Completes every snapshot file write waiting while `holdSnapshotFiles` was set. */
  finishSnapshotFiles(): void {
    const held = this.heldFiles;
    this.heldFiles = [];
    for (const resolve of held) resolve();
  }

  recordSnapshot(snap: Snapshot): void {
    this.written++;
    this.events.push(`${this.name} recordSnapshot index=${snap.metadata.index}`);
  }

  write(hs: HardState, entries: Entry[]): void {
    if (isEmptyHardState(hs) && entries.length === 0) return;
    this.written++;
    const state = isEmptyHardState(hs) ? 'none' : `term=${hs.term} vote=${hs.vote} commit=${hs.commit}`;
    this.events.push(`${this.name} write ${state} entries=${entries.length}`);
  }

  /** Syncs the loop asked to run on its own thread; the fake settles them as it settles the others. */
  syncsOnLoopThread = 0;

  sync(onLoopThread = false): Promise<void> {
    if (onLoopThread) this.syncsOnLoopThread++;
    this.events.push(`${this.name} sync`);
    const covers = this.written;
    if (this.syncError !== null) {
      const err = this.syncError;
      this.syncError = null;
      return Promise.reject(err);
    }
    if (!this.holdSyncs) {
      this.synced(covers);
      return Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => this.held.push({ covers, resolve, reject }));
  }

  /** Completes every sync waiting while `holdSyncs` was set. */
  finishSyncs(): void {
    const held = this.held;
    this.held = [];
    for (const h of held) {
      this.synced(h.covers);
      h.resolve();
    }
  }

  get syncsWaiting(): number {
    return this.held.length;
  }

  release(snap: Snapshot): void {
    this.events.push(`${this.name} release index=${snap.metadata.index}`);
    if (this.durable < this.written) {
      this.releasedUnsynced.push(`release at index ${snap.metadata.index} with ${this.written - this.durable} unsynced operation(s)`);
    }
  }

  close(): void {
    this.closed = true;
    this.events.push(`${this.name} close`);
  }

  private synced(covers: number): void {
    this.durable = Math.max(this.durable, covers);
    this.events.push(`${this.name} synced`);
  }
}

/** One member under test, with its fakes. */
export interface TestMember {
  id: NodeId;
  node: RaftNode;
  disk: FakePersistence;
  storage: MemoryStorage;
  logger: RecordingLogger;
  /** Membership lists the transport was told, newest last. */
  peerUpdates: Member[][];
  stopped: { reason: string; failed: boolean }[];
}

export interface MemberOptions {
  /** Election ticks; give one member fewer to make it the first candidate. */
  electionTicks?: number;
  snapshotCount?: number;
  snapshotCatchup?: number;
  requestTimeoutMs?: number;
  /** How long a request waits for a leader before NoLeader; 0 (fail at once) unless given. */
  leaderWaitMs?: number;
  /** Start as a founding member of this many (bootstrap), or empty (a member waiting to hear from a leader). */
  bootstrap?: boolean;
}

/** Members 1..n wired through a network the test controls: cut links drop messages, as a partition does. */
export class TestCluster {
  readonly events: string[] = [];
  readonly members = new Map<NodeId, TestMember>();
  /** Messages sent to ids that are not members of this cluster (a leader the test plays by hand). */
  readonly outside: Message[] = [];
  private readonly cut = new Set<string>();

  /**
   * Creates members `ids`; `played` are further members of the initial configuration that the test plays by hand
   * (their messages go to `outside`, and the test delivers theirs).
   */
  constructor(
    readonly ids: NodeId[],
    private readonly options: (id: NodeId) => MemberOptions = () => ({}),
    played: NodeId[] = [],
  ) {
    const initial: Member[] = [...ids, ...played].map((id) => ({ id, peerURL: `http://n${id}`, clientURL: '', learner: false }));
    for (const id of ids) this.members.set(id, this.create(id, initial));
  }

  member(id: NodeId): TestMember {
    const m = this.members.get(id);
    if (m === undefined) throw new Error(`No member ${id}`);
    return m;
  }

  node(id: NodeId): RaftNode {
    return this.member(id).node;
  }

  start(): void {
    for (const m of this.members.values()) m.node.start();
  }

  stopAll(): void {
    for (const m of this.members.values()) m.node.stop();
  }

  /** Drops every message between `a` and `b`, both ways. */
  isolate(a: NodeId, b: NodeId): void {
    this.cut.add(`${a}-${b}`).add(`${b}-${a}`);
  }

  /** Restores every link. */
  heal(): void {
    this.cut.clear();
  }

  /** The member that leads, once exactly one member believes it leads. */
  leader(): TestMember | undefined {
    const leaders = [...this.members.values()].filter((m) => !m.node.isStopped && m.node.leaderId === m.id);
    return leaders.length === 1 ? leaders[0] : undefined;
  }

  /** Events of member `id`, without the name prefix. */
  eventsOf(id: NodeId): string[] {
    const prefix = `n${id} `;
    return this.events.filter((e) => e.startsWith(prefix)).map((e) => e.slice(prefix.length));
  }

  private create(id: NodeId, initial: Member[]): TestMember {
    const o = this.options(id);
    const name = `n${id}`;
    const disk = new FakePersistence(name, this.events);
    const storage = new MemoryStorage();
    const logger = new RecordingLogger();
    const opts: NodeOptions = {
      id,
      tickMs: TICK_MS,
      electionTicks: o.electionTicks ?? 10,
      heartbeatTicks: 1,
      snapshotCount: o.snapshotCount ?? 10_000,
      snapshotCatchup: o.snapshotCatchup ?? 5,
      requestTimeoutMs: o.requestTimeoutMs ?? 1000,
      leaderWaitMs: o.leaderWaitMs ?? 0,
      logger,
      randSeed: id,
    };
    const peerUpdates: Member[][] = [];
    const stopped: { reason: string; failed: boolean }[] = [];
    const hooks: NodeHooks = {
      onPeersChanged: (members: Membership) => peerUpdates.push(members.list()),
      send: (msgs) => {
        for (const m of msgs) {
          this.events.push(`${name} send ${MessageType[m.type]}->${m.to}`);
          const to = this.members.get(m.to);
          if (to === undefined) this.outside.push(m);
          else if (!this.cut.has(`${id}-${m.to}`)) to.node.deliver([m]);
        }
      },
      peerReachable: (peer) => !this.cut.has(`${id}-${peer}`),
      peerCounters: () => ({ peerRequests: 0, peerMessages: 0 }),
      onStopped: (reason, failed) => stopped.push({ reason, failed }),
    };
    const bootstrap = o.bootstrap === false ? [] : initial.map((m) => ({ id: m.id, context: encodeMemberContext({ peerURL: m.peerURL, clientURL: '' }) }));
    const node = new RaftNode(opts, { storage, persistence: disk, snapshot: emptySnapshot(), members: new Membership(initial), bootstrap }, hooks);
    return { id, node, disk, storage, logger, peerUpdates, stopped };
  }
}

/** Moves the fake clock by `ms`, running every timer, immediate and promise callback that falls due. */
export async function advance(ms: number): Promise<void> {
  await jest.advanceTimersByTimeAsync(ms);
}

/**
 * Lets every turn of the loop that is due run, and the turns they cause, without a tick of the clock. An immediate
 * scheduled while the fake clock runs is due 1 ms later, so this moves the clock by 1 ms (less than a tick).
 */
export async function runLoop(): Promise<void> {
  await advance(1);
}

/** Moves the fake clock one tick at a time until `cond` holds; fails naming `what` after `maxTicks` ticks. */
export async function waitFor(cond: () => boolean, what: string, maxTicks = 200): Promise<void> {
  for (let i = 0; i < maxTicks; i++) {
    if (cond()) return;
    await advance(TICK_MS);
  }
  if (!cond()) throw new Error(`${what}: not reached within ${maxTicks} ticks`);
}

/** The settled outcome of a promise, for asserting on rejections without unhandled-rejection noise. */
export function outcome<T>(p: Promise<T>): { settled: boolean; value?: T; error?: { code: string; status: number; message: string } } {
  const o: { settled: boolean; value?: T; error?: { code: string; status: number; message: string } } = { settled: false };
  p.then(
    (value) => {
      o.settled = true;
      o.value = value;
    },
    (err: { code: string; status: number; message: string }) => {
      o.settled = true;
      o.error = { code: err.code, status: err.status, message: err.message };
    },
  );
  return o;
}
