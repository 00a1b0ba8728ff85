// # Creating nodes
//
// `add-nodes 3 voters=(1,2,3) index=10` creates three nodes with the next free IDs. Given a configuration or an
// index, each node starts from a snapshot at that index (term 1) holding that configuration, the usual way to
// bootstrap a group without a log; given nothing, a node starts empty and learns everything from a leader later.
// The remaining options set fields of the node's Config.

import { Config } from '../config';
import { RaftError } from '../errors';
import { RaftPanic } from '../logger';
import { ReadOnlyOption } from '../read_only';
import { RawNode } from '../rawnode';
import { MemoryStorage } from '../storage';
import { Snapshot, emptySnapshot } from '../types';
import { CmdArg } from './datadriven';
import { ConfigTemplate, HistoryStorage, InteractionEnv, raftConfigStub } from './interaction_env';
import { InteractionError, firstAsInt, parseBool, parseUint } from './interaction_env_args';

export function handleAddNodes(env: InteractionEnv, args: CmdArg[]): void {
  const n = firstAsInt(args);
  const snap = emptySnapshot();
  const cfg: ConfigTemplate = raftConfigStub();
  for (const arg of args.slice(1)) {
    for (const val of arg.vals) {
      switch (arg.key) {
        case 'voters':
          snap.metadata.confState.voters.push(parseUint(arg.key, val));
          break;
        case 'learners':
          snap.metadata.confState.learners.push(parseUint(arg.key, val));
          break;
        case 'inflight':
          cfg.maxInflightMsgs = parseUint(arg.key, val);
          break;
        case 'index':
          snap.metadata.index = parseUint(arg.key, val);
          cfg.applied = snap.metadata.index;
          break;
        case 'content':
          snap.data = new TextEncoder().encode(val);
          break;
        case 'async-storage-writes':
          cfg.asyncStorageWrites = parseBool(arg.key, val);
          break;
        case 'prevote':
          cfg.preVote = parseBool(arg.key, val);
          break;
        case 'checkquorum':
          cfg.checkQuorum = parseBool(arg.key, val);
          break;
        case 'max-committed-size-per-ready':
          cfg.maxCommittedSizePerReady = parseUint(arg.key, val);
          break;
        case 'disable-conf-change-validation':
          cfg.disableConfChangeValidation = parseBool(arg.key, val);
          break;
        case 'step-down-on-removal':
          cfg.stepDownOnRemoval = parseBool(arg.key, val);
          break;
        case 'election-tick':
          cfg.electionTick = parseUint(arg.key, val);
          break;
        case 'heartbeat-tick':
          cfg.heartbeatTick = parseUint(arg.key, val);
          break;
        case 'read-only':
          cfg.readOnlyOption = parseReadOnlyOption(val);
          break;
        default:
          throw new InteractionError(`unknown add-nodes argument ${arg.key}`);
      }
    }
  }
  addNodes(env, n, cfg, snap);
}

function parseReadOnlyOption(val: string): ReadOnlyOption {
  switch (val) {
    case 'safe':
      return ReadOnlyOption.ReadOnlySafe;
    case 'lease-based':
      return ReadOnlyOption.ReadOnlyLeaseBased;
    default:
      throw new Error(`invalid read-only option ${JSON.stringify(val)}`);
  }
}

function isBlankSnapshot(snap: Snapshot): boolean {
  const cs = snap.metadata.confState;
  return (
    snap.data.length === 0 &&
    snap.metadata.index === 0 &&
    snap.metadata.term === 0 &&
    cs.voters.length === 0 &&
    cs.learners.length === 0 &&
    cs.votersOutgoing.length === 0 &&
    cs.learnersNext.length === 0 &&
    !cs.autoLeave
  );
}

function cloneSnapshot(snap: Snapshot): Snapshot {
  const cs = snap.metadata.confState;
  return {
    data: snap.data.slice(),
    metadata: {
      index: snap.metadata.index,
      term: snap.metadata.term,
      confState: {
        voters: [...cs.voters],
        learners: [...cs.learners],
        votersOutgoing: [...cs.votersOutgoing],
        learnersNext: [...cs.learnersNext],
        autoLeave: cs.autoLeave,
      },
    },
  };
}

/**
 * Adds `n` nodes with consecutive IDs, each from its own copy of `template` and started from `snap` (which may be
 * blank: then the node starts with an empty log and no configuration).
 */
export function addNodes(env: InteractionEnv, n: number, template: ConfigTemplate, snap: Snapshot): void {
  const bootstrap = !isBlankSnapshot(snap);
  for (let i = 0; i < n; i++) {
    const id = env.nodes.length + 1;
    const start = cloneSnapshot(snap);
    // The latest applied state is the snapshot a leader sends and the one storage reports.
    const storage = new HistoryStorage(new MemoryStorage(), () => {
      const history = env.node(id - 1).history;
      return history[history.length - 1];
    });
    if (bootstrap) {
      // A snapshot at index 1 would leave MemoryStorage's dummy entry ambiguous; any larger index works the same.
      if (start.metadata.index <= 1) {
        throw new Error('index must be specified as > 1 due to bootstrap');
      }
      start.metadata.term = 1;
      storage.memory.applySnapshot(start);
      const first = storage.firstIndex();
      if (first !== start.metadata.index + 1) {
        throw new Error(`failed to establish first index ${start.metadata.index + 1}; got ${first}`);
      }
    }
    const cfg: Config = { ...template, id, storage, logger: env.output };
    env.options.onConfig?.(cfg);
    if (cfg.id !== id) {
      throw new InteractionError('onConfig must not change the ID');
    }
    if (cfg.logger !== env.output) {
      throw new InteractionError('onConfig must not set the logger');
    }
    const rawNode = newRawNodeAsEtcd(cfg);
    env.nodes.push({ rawNode, storage, config: cfg, appendWork: [], applyWork: [], history: [start] });
  }
}

// etcd's node constructor panics on an invalid configuration, where tsraft's RawNode throws RaftError('ConfigInvalid')
// for the application to report; a scenario replays etcd's outcome, a panic.
function newRawNodeAsEtcd(cfg: Config): RawNode {
  try {
    return new RawNode(cfg);
  } catch (err) {
    if (err instanceof RaftError && err.code === 'ConfigInvalid') {
      throw new RaftPanic(err.message);
    }
    throw err;
  }
}
