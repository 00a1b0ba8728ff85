// # Client requests waiting on the core
//
// Every request a member accepts (a write, a linearizable read, a membership change, a leadership transfer) waits
// here until the Ready loop can answer it. A request lives in two stages:
//
// 1. queued: accepted, not yet handed to the RawNode. The loop's next turn hands every queued request over at
//    once (one Ready, one fsync, one ReadIndex for all of them).
// 2. handed over: the core has it. A write may now be in a leader's log and on its way to followers; from here on
//    only its application (or its loss, which a member cannot see) settles what happened to it.
//
// Each request has one timer. What a failure answers depends on the stage, because a client decides from the
// code whether retrying is safe: `NoLeader`, `Unavailable` and `Stopped` (503) promise that nothing changed;
// `OutcomeUnknown` (504) says the request may still take effect. So a queued request whose time runs out is
// withdrawn from its queue before it is answered (the promise has to stay true), and a request handed over is
// never answered 503 by a timeout or a stop: only reads, which change nothing, are. docs/ready-loop.md has the table.
//
// A write or read that arrives while this member knows no leader it can reach stays queued for a while rather than
// failing at once: a member that has just restarted hears from the leader within a heartbeat, and an election after
// a leader's loss ends within an election timeout or so. etcd's server holds proposals the same way until a leader
// is known. A queued request holds no promise yet, so the wait costs nothing in safety: if no leader turns up within
// `leaderWaitMs` it fails with `NoLeader`, still never proposed, and the client may try another member.

import crypto from 'node:crypto';
import { RaftError } from '../raft/errors';
import { ConfChange, Entry, EntryType, Message, MessageType, NodeId, newEntry, newMessage } from '../raft/types';
import { Command, CommandOp, encodeCommand } from './command';
import { KvError } from './errors';
import { ApplyResult } from './kv';

const ARRIVED_ALONE_CAP = 1_000_000;

interface Waiter<T> {
  resolve(value: T): void;
  reject(err: KvError): void;
  timer: NodeJS.Timeout;
  /** When the request was accepted (performance.now()), to bound its wait for a leader. */
  since: number;
  // Invariant: false while the request is queued; true from the moment it is handed to the core, for good.
  handedOver: boolean;
}

interface QueuedProposal {
  seq: number;
  data: Uint8Array;
}

interface QueuedConfChange {
  cc: ConfChange;
  tag: string;
}

interface Transfer {
  to: NodeId;
  waiter: Waiter<NodeId>;
}

interface ReadBatch {
  // Invariant: `index` is 0 until the ReadState for this batch arrives.
  index: number;
  waiters: Waiter<void>[];
}

/** What the loop hands requests to: the RawNode's calls that accept them. */
export interface RequestSink {
  /** Takes a MsgProp carrying many writes at once, as a peer's forwarded proposal arrives. */
  step(m: Message): void;
  proposeConfChange(cc: ConfChange): void;
  transferLeader(to: NodeId): void;
  readIndex(ctx: Uint8Array): void;
}

/** Every request this member accepted and has not answered yet, with its timer. */
export class Requests {
  /** Tags this member's commands, so it recognises its own when they come back through the log. */
  readonly epoch = crypto.randomBytes(4).readUInt32BE(0);
  private seq = 0;

  private queuedProposals: QueuedProposal[] = [];
  private queuedConfChanges: QueuedConfChange[] = [];
  private queuedTransfers: Transfer[] = [];
  private queuedReads: Waiter<void>[] = [];

  // Requests by the key they come back with: a command's sequence number, a ConfChange's request tag.
  private readonly proposals = new Map<number, Waiter<ApplyResult>>();
  private readonly confChanges = new Map<string, Waiter<void>>();
  private readonly transfers: Transfer[] = [];
  // How many requests in a row arrived while this member held no other (kvstore/loop.ts, "Where the fdatasync
  // runs"), capped. It starts at the cap: a member that has never held two requests at once is quiet.
  private arrivedAlone = ARRIVED_ALONE_CAP;
  private readonly reads = new Map<string, ReadBatch>();

  constructor(
    private readonly memberId: NodeId,
    private readonly timeoutMs: number,
    /** How long a queued write or read may wait for a reachable leader before it fails with NoLeader. */
    private readonly leaderWaitMs: number,
  ) {}

  /** How many requests this member holds unanswered, queued or handed over: writes, reads, changes, transfers. */
  get outstanding(): number {
    let reads = this.queuedReads.length;
    for (const b of this.reads.values()) reads += b.waiters.length;
    return this.proposals.size + this.confChanges.size + this.queuedTransfers.length + this.transfers.length + reads;
  }

  /** How many requests in a row arrived while this member held no other request (capped at a million). */
  get arrivedAloneInARow(): number {
    return this.arrivedAlone;
  }

  // ## Accepting requests (from HTTP handlers, any time)

  /** Queues a write; resolves once it is applied on this member. */
  propose(op: CommandOp, key: string, value: Uint8Array): Promise<ApplyResult> {
    const seq = ++this.seq;
    const cmd: Command = { op, epoch: this.epoch, seq, key, value };
    return new Promise<ApplyResult>((resolve, reject) => {
      const waiter = this.waiter<ApplyResult>(resolve, reject, (handedOver) => {
        this.proposals.delete(seq);
        if (handedOver) {
          return new KvError('OutcomeUnknown', `Write to "${key}" was proposed but not applied within ${this.timeoutMs} ms; it may or may not take effect`);
        }
        // Still queued (the loop was waiting on the disk all along): withdraw it, so the answer stays true.
        this.queuedProposals = this.queuedProposals.filter((p) => p.seq !== seq);
        return new KvError('Unavailable', `Write to "${key}" could not be proposed within ${this.timeoutMs} ms; nothing changed`);
      });
      this.proposals.set(seq, waiter);
      this.queuedProposals.push({ seq, data: encodeCommand(cmd) });
    });
  }

  /** Queues a linearizable read; resolves once this member has applied everything committed when it was confirmed. */
  readBarrier(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter<void> = this.waiter<void>(resolve, reject, () => {
        this.queuedReads = this.queuedReads.filter((w) => w !== waiter);
        // A ReadState may never come (the leader changed); forget batches nobody waits for any more.
        for (const [key, b] of this.reads) {
          b.waiters = b.waiters.filter((w) => w !== waiter);
          if (b.waiters.length === 0) this.reads.delete(key);
        }
        return new KvError('Unavailable', `Read could not be confirmed by a quorum within ${this.timeoutMs} ms`);
      });
      this.queuedReads.push(waiter);
    });
  }

  /**
   * Waits, without asking any leader, until this member has applied `index`: a serializable read after a restart
   * must not see less than what the member applied before it went down. Answered by `serveReads` like any read.
   */
  localReadBarrier(index: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const key = `local:${index}`;
      const waiter: Waiter<void> = this.waiter<void>(resolve, reject, () => {
        const b = this.reads.get(key);
        if (b !== undefined) b.waiters = b.waiters.filter((w) => w !== waiter);
        if (b?.waiters.length === 0) this.reads.delete(key);
        return new KvError('Unavailable', `Read could not be served within ${this.timeoutMs} ms: member ${this.memberId} is still applying its log up to index ${index}`);
      });
      const batch = this.reads.get(key) ?? { index, waiters: [] };
      batch.waiters.push(waiter);
      this.reads.set(key, batch);
    });
  }

  /** Queues a configuration change whose context carries `tag`; resolves once this member has applied it. */
  proposeConfChange(cc: ConfChange, tag: string): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const waiter = this.waiter<void>(resolve, reject, (handedOver) => {
        this.confChanges.delete(tag);
        if (handedOver) {
          return new KvError('OutcomeUnknown', `Membership change was proposed but not applied within ${this.timeoutMs} ms; check the member list`);
        }
        this.queuedConfChanges = this.queuedConfChanges.filter((c) => c.tag !== tag);
        return new KvError('Unavailable', `Membership change could not be proposed within ${this.timeoutMs} ms; nothing changed`);
      });
      this.confChanges.set(tag, waiter);
      this.queuedConfChanges.push({ cc, tag });
    });
  }

  /** A fresh tag for a configuration change's context, matched when the change is applied. */
  nextRequestTag(): string {
    return `${this.epoch}:${++this.seq}`;
  }

  /** Queues a request to move leadership to `to`; resolves once `to` is seen leading. */
  transferLeader(to: NodeId): Promise<NodeId> {
    return new Promise<NodeId>((resolve, reject) => {
      const waiter: Waiter<NodeId> = this.waiter<NodeId>(resolve, reject, (handedOver) => {
        for (const list of [this.queuedTransfers, this.transfers]) {
          const i = list.findIndex((t) => t.waiter === waiter);
          if (i >= 0) list.splice(i, 1);
        }
        // The target may still win the election the leader asked it to start.
        if (handedOver) {
          return new KvError('OutcomeUnknown', `Leadership did not move to member ${to} within ${this.timeoutMs} ms; it may still move, check GET /status`);
        }
        return new KvError('Unavailable', `Leadership transfer to member ${to} could not be started within ${this.timeoutMs} ms; nothing changed`);
      });
      this.queuedTransfers.push({ to, waiter });
    });
  }

  // ## Handing requests to the core (the loop, at the start of a turn)

  /** Hands queued configuration changes and leadership transfers to the core. */
  handOverControl(core: RequestSink): void {
    const changes = this.queuedConfChanges;
    this.queuedConfChanges = [];
    for (const c of changes) {
      const waiter = this.confChanges.get(c.tag);
      if (waiter === undefined) continue;
      waiter.handedOver = true;
      try {
        core.proposeConfChange(c.cc);
      } catch (err) {
        this.confChanges.delete(c.tag);
        settle(waiter, () => waiter.reject(refusalOf(err)));
      }
    }
    const transfers = this.queuedTransfers;
    this.queuedTransfers = [];
    for (const t of transfers) {
      t.waiter.handedOver = true;
      this.transfers.push(t);
      core.transferLeader(t.to);
    }
  }

  /**
   * Hands queued writes and reads to the core; returns how many writes and ReadIndex requests it made. With
   * `noLeader` set (why no leader can take them), keeps them queued, and fails those that have waited
   * `leaderWaitMs`: a write forwarded to a leader this member cannot reach would be lost and answered only by a
   * timeout, with an unknown outcome, while refusing it before it exists lets the client retry safely.
   */
  handOverWork(core: RequestSink, noLeader: string | undefined): { proposals: number; readIndexes: number } {
    const proposal = this.takeProposals(noLeader);
    let proposals = 0;
    if (proposal !== undefined) {
      try {
        core.step(proposal.msg);
        proposals = proposal.seqs.length;
      } catch (err) {
        const refusal = refusalOf(err);
        for (const seq of proposal.seqs) this.failProposal(seq, refusal);
      }
    }
    const ctx = this.takeReads(noLeader);
    if (ctx !== undefined) core.readIndex(ctx);
    return { proposals, readIndexes: ctx === undefined ? 0 : 1 };
  }

  /**
   * A follower's shortcut past its core: sends the queued writes and reads to `leader` as the MsgProp and
   * MsgReadIndex the core's follower would send (§6.4: a follower asks the leader for the read index), so they do
   * not wait for the fsync of whatever this member is writing meanwhile. The core would only forward them: a
   * follower's proposal and read request touch none of its state, and carry no term.
   */
  forward(leader: NodeId, send: (msgs: Message[]) => void): { proposals: number; readIndexes: number } {
    const msgs: Message[] = [];
    const proposal = this.takeProposals(undefined);
    if (proposal !== undefined) msgs.push({ ...proposal.msg, to: leader });
    const ctx = this.takeReads(undefined);
    if (ctx !== undefined) {
      const entries = [newEntry({ term: 0, index: 0, data: ctx, typeUnset: true })];
      msgs.push(newMessage({ type: MessageType.MsgReadIndex, to: leader, from: this.memberId, entries }));
    }
    if (msgs.length > 0) send(msgs);
    return { proposals: proposal?.seqs.length ?? 0, readIndexes: ctx === undefined ? 0 : 1 };
  }

  // Takes every queued write for one MsgProp and marks it handed over. When `noLeader` says why nothing can take
  // them, it takes none: those that have waited long enough for a leader fail, the others stay queued.
  //
  // All the writes go in one message, as RawNode's propose() would send each alone: the leader appends them in one
  // step and sends each follower one MsgApp for all of them, and a follower forwards them in one message. One at a
  // time, a turn of N writes cost N appends and N MsgApps per follower (and, on a follower, N forwarded messages),
  // each acknowledged and each advancing the commit index with a message of its own. The proposal is accepted or
  // dropped as a whole (the core counts its cap on uncommitted entries per message).
  private takeProposals(noLeader: string | undefined): { msg: Message; seqs: number[] } | undefined {
    const queued = this.queuedProposals;
    this.queuedProposals = [];
    const seqs: number[] = [];
    const entries: Entry[] = [];
    const now = performance.now();
    for (const p of queued) {
      const waiter = this.proposals.get(p.seq);
      if (waiter === undefined) continue;
      if (noLeader !== undefined) {
        if (now - waiter.since < this.leaderWaitMs) this.queuedProposals.push(p);
        else this.failProposal(p.seq, new KvError('NoLeader', `${noLeader}; retry shortly`));
        continue;
      }
      waiter.handedOver = true;
      seqs.push(p.seq);
      entries.push(newEntry({ term: 0, index: 0, type: EntryType.EntryNormal, data: p.data, typeUnset: true }));
    }
    if (seqs.length === 0) return undefined;
    return { msg: newMessage({ type: MessageType.MsgProp, from: this.memberId, entries }), seqs };
  }

  // Takes every queued read into one batch and returns the context of its ReadIndex request. When `noLeader` says
  // why no leader can confirm them, it takes none: those that have waited long enough fail, the others stay queued.
  // One ReadIndex request covers every read that arrived meanwhile.
  private takeReads(noLeader: string | undefined): Uint8Array | undefined {
    if (this.queuedReads.length === 0) return undefined;
    const waiters = this.queuedReads;
    this.queuedReads = [];
    if (noLeader !== undefined) {
      const err = new KvError('NoLeader', `${noLeader} to confirm a linearizable read; retry shortly`);
      const now = performance.now();
      for (const w of waiters) {
        if (now - w.since < this.leaderWaitMs) this.queuedReads.push(w);
        else settle(w, () => w.reject(err));
      }
      return undefined;
    }
    const ctx = Buffer.allocUnsafe(10);
    ctx.writeUInt32BE(this.epoch, 0);
    ctx.writeUIntBE(++this.seq, 4, 6);
    this.reads.set(ctx.toString('hex'), { index: 0, waiters });
    return ctx;
  }

  // ## Settling requests (the loop, as Readys come out)

  /** A command was applied; answers the request that proposed it, if this member did. */
  commandApplied(cmd: Command, result: ApplyResult): void {
    if (cmd.epoch !== this.epoch) return;
    const waiter = this.proposals.get(cmd.seq);
    if (waiter === undefined) return;
    this.proposals.delete(cmd.seq);
    settle(waiter, () => waiter.resolve(result));
  }

  /** A configuration change carrying `tag` was applied, or committed and refused (`refusal` says why). */
  confChangeApplied(tag: string, refusal?: string): void {
    const waiter = this.confChanges.get(tag);
    if (waiter === undefined) return;
    this.confChanges.delete(tag);
    settle(waiter, () => (refusal === undefined ? waiter.resolve() : waiter.reject(new KvError('BadRequest', refusal))));
  }

  /** The leader is now `lead`: transfers to it are done. */
  leaderIs(lead: NodeId): void {
    for (let i = this.transfers.length - 1; i >= 0; i--) {
      const t = this.transfers[i];
      if (t !== undefined && lead === t.to) {
        this.transfers.splice(i, 1);
        settle(t.waiter, () => t.waiter.resolve(lead));
      }
    }
  }

  /** A ReadState arrived: the reads of that batch may be answered once `index` is applied. */
  readIndexConfirmed(ctx: Uint8Array, index: number): void {
    const batch = this.reads.get(Buffer.from(ctx).toString('hex'));
    if (batch !== undefined) batch.index = index;
  }

  /** Answers every read whose confirmed index is applied. */
  serveReads(applied: number): void {
    for (const [key, batch] of this.reads) {
      if (batch.index === 0 || batch.index > applied) continue;
      this.reads.delete(key);
      for (const w of batch.waiters) settle(w, () => w.resolve());
    }
  }

  /**
   * Fails every request still waiting: the member is stopping. What the core never had fails with `Stopped`
   * (nothing changed, retry elsewhere). What it had may still take effect: a leader may already have sent a write
   * or a membership change to its followers, who can commit it without this member, and a target asked to take
   * over may still win. Those fail with `OutcomeUnknown`. Reads change nothing and fail with `Stopped` either way.
   */
  failAll(): void {
    const stopped = new KvError('Stopped', `Member ${this.memberId} is stopping; the request was not started`);
    const unknown = (what: string): KvError =>
      new KvError('OutcomeUnknown', `Member ${this.memberId} stopped after it proposed this ${what}; it may or may not take effect`);
    const fail = <T>(w: Waiter<T>, what: string): void => settle(w, () => w.reject(w.handedOver ? unknown(what) : stopped));
    for (const w of this.proposals.values()) fail(w, 'write');
    for (const w of this.confChanges.values()) fail(w, 'membership change');
    for (const t of [...this.queuedTransfers, ...this.transfers]) fail(t.waiter, 'leadership transfer');
    for (const b of this.reads.values()) for (const w of b.waiters) settle(w, () => w.reject(stopped));
    for (const w of this.queuedReads) settle(w, () => w.reject(stopped));
    this.proposals.clear();
    this.confChanges.clear();
    this.reads.clear();
    this.queuedProposals = [];
    this.queuedConfChanges = [];
    this.queuedReads = [];
    this.queuedTransfers = [];
    this.transfers.length = 0;
  }

  private failProposal(seq: number, err: KvError): void {
    const waiter = this.proposals.get(seq);
    if (waiter === undefined) return;
    this.proposals.delete(seq);
    settle(waiter, () => waiter.reject(err));
  }

  // A waiter whose timer fails it with what `onTimeout` answers for its stage at that moment.
  private waiter<T>(resolve: (v: T) => void, reject: (e: KvError) => void, onTimeout: (handedOver: boolean) => KvError): Waiter<T> {
    this.arrivedAlone = this.outstanding === 0 ? Math.min(this.arrivedAlone + 1, ARRIVED_ALONE_CAP) : 0;
    const w: Waiter<T> = { resolve, reject, handedOver: false, since: performance.now(), timer: setTimeout(() => reject(onTimeout(w.handedOver)), this.timeoutMs) };
    return w;
  }
}

function settle<T>(w: Waiter<T>, fn: () => void): void {
  clearTimeout(w.timer);
  fn();
}

// The answer to a request the core refused when it was handed over: a dropped proposal (no leader, or leadership
// moving) changed nothing and may be retried.
function refusalOf(err: unknown): KvError {
  if (err instanceof KvError) return err;
  if (err instanceof RaftError && err.code === 'ProposalDropped') {
    return new KvError('NoLeader', 'The proposal was dropped (no leader, or leadership is moving); retry shortly');
  }
  return new KvError('Internal', err instanceof Error ? err.message : String(err));
}
