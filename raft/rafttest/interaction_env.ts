// # The interaction environment
//
// A scenario drives a small group of Raft nodes by hand: it creates nodes, lets them campaign, takes their Ready
// structs, delivers or drops their messages one recipient at a time, and ticks their clocks. The environment holds
// what a real deployment spreads over machines: each node's RawNode and storage, the history of its applied state,
// the work queued for its storage threads (in asynchronous storage-writes mode), and the messages in flight.
//
// It drives the core only through the public RawNode API, as an application would. The few commands that inspect
// internals (`raft-state`, `set-randomized-election-timeout`) read the RawNode's `raft` field, as etcd's harness
// does.

import { Config } from '../config';
import { RawNode } from '../rawnode';
import { noLimit } from '../util';
import { MemoryStorage, Storage } from '../storage';
import { ConfState, Entry, HardState, Message, Snapshot } from '../types';
import { RedirectLogger } from './interaction_env_logger';

/** Node configuration without the per-node fields the environment fills in. */
export type ConfigTemplate = Omit<Config, 'id' | 'storage'>;

/** Hooks to adjust the environment; all optional. */
export interface InteractionOpts {
  /** Called with each node's configuration before the node is created; must not change the ID or the logger. */
  onConfig?: (cfg: Config) => void;
  /** Overrides how `set-randomized-election-timeout` reaches into a node. */
  setRandomizedElectionTimeout?: (node: RawNode, timeout: number) => void;
}

/**
 * A node's storage: a MemoryStorage whose snapshot is always the latest state the node has applied, because the
 * harness's state machine is the history of applied snapshots rather than whatever MemoryStorage last recorded.
 */
export class HistoryStorage implements Storage {
  constructor(
    readonly memory: MemoryStorage,
    private readonly latest: () => Snapshot,
  ) {}

  initialState(): { hardState: HardState; confState: ConfState } {
    return this.memory.initialState();
  }

  entries(lo: number, hi: number, maxSize: number): Entry[] {
    return this.memory.entries(lo, hi, maxSize);
  }

  term(i: number): number {
    return this.memory.term(i);
  }

  lastIndex(): number {
    return this.memory.lastIndex();
  }

  firstIndex(): number {
    return this.memory.firstIndex();
  }

  snapshot(): Snapshot {
    return this.latest();
  }
}

/** A member of the group under test. */
export interface Node {
  rawNode: RawNode;
  storage: HistoryStorage;
  config: Config;
  /** MsgStorageAppend messages waiting for the append thread (asynchronous storage writes only). */
  appendWork: Message[];
  /** MsgStorageApply messages waiting for the apply thread (asynchronous storage writes only). */
  applyWork: Message[];
  /**
   * The state machine: one snapshot per applied entry, the first being the one the node started from. Its data is
   * the concatenation of every applied entry's data (an "appender" state machine).
   * Invariant: never empty.
   */
  history: Snapshot[];
}

/** The nodes, the messages between them, and the output a scenario compares. */
export class InteractionEnv {
  readonly nodes: Node[] = [];
  /** Messages sent and not yet delivered or dropped, in the order they were sent. */
  messages: Message[] = [];
  readonly output = new RedirectLogger();

  constructor(readonly options: InteractionOpts = {}) {}

  /**
   * Runs `f`, then re-emits everything it wrote indented by two spaces, one line at a time. A failure inside `f` is
   * rethrown after its output has been emitted.
   */
  withIndent(f: () => void): void {
    const { text, failure } = this.output.capture(f);
    const lines = text.split('\n');
    if (lines[lines.length - 1] === '') {
      lines.pop();
    }
    for (const line of lines) {
      this.output.write('  ' + line.replace(/\r$/, '') + '\n');
    }
    if (failure !== undefined) {
      throw failure;
    }
  }

  /** The node with the given index (ID - 1); throws a readable error when there is none. */
  node(idx: number): Node {
    const n = this.nodes[idx];
    if (n === undefined) {
      throw new Error(`node index ${idx} out of range [0, ${this.nodes.length})`);
    }
    return n;
  }
}

/**
 * The configuration every node starts from: short timeouts so scenarios stay brief, and no size or flow limits, so
 * that only a scenario that asks for a limit sees one.
 */
export function raftConfigStub(): ConfigTemplate {
  return {
    electionTick: 3,
    heartbeatTick: 1,
    maxSizePerMsg: noLimit,
    maxInflightMsgs: 2 ** 31 - 1,
  };
}
