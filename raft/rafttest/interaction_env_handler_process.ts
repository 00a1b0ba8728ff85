// # Handling Ready
//
// This is the application's side of the RawNode contract, done by hand. In the classic mode, handling a Ready
// means: persist the HardState, entries and snapshot, apply the committed entries, send the messages, then call
// advance(). With asynchronous storage writes, the Ready instead carries MsgStorageAppend and MsgStorageApply
// messages addressed to the node's append and apply threads; the harness queues them and a scenario runs each
// thread step by step (`process-append-thread`, `process-apply-thread`), delivering the responses they carry as
// ordinary messages afterwards. `stabilize` repeats all of it until no node has anything left to do.

import { decodeConfChange, decodeConfChangeV2 } from '../codec';
import { describeMessage, describeReady } from '../describe';
import { LocalAppendThread, LocalApplyThread } from '../config';
import {
  ConfState,
  Entry,
  EntryType,
  HardState,
  MessageType,
  Snapshot,
  emptySnapshot,
  isEmptyHardState,
  isEmptySnapshot,
} from '../types';
import { CmdArg } from './datadriven';
import { InteractionEnv, Node } from './interaction_env';
import { nodeIdxs } from './interaction_env_args';
import { deliverMsgs, splitMsgs } from './interaction_env_handler_messages';

// Runs `step` on each node; with several nodes, each one's output goes under a banner, indented.
function forEachNode(env: InteractionEnv, idxs: number[], banner: string, step: (idx: number) => void): void {
  for (const idx of idxs) {
    if (idxs.length > 1) {
      env.output.write(`> ${idx + 1} ${banner}\n`);
      env.withIndent(() => step(idx));
    } else {
      step(idx);
    }
  }
}

/** `process-ready 1 2`: each node hands over its Ready, which is printed and handled. */
export function handleProcessReady(env: InteractionEnv, args: CmdArg[]): void {
  forEachNode(env, nodeIdxs(args), 'handling Ready', (idx) => processReady(env, idx));
}

/** `process-append-thread 1`: node 1's append thread performs its oldest queued write. */
export function handleProcessAppendThread(env: InteractionEnv, args: CmdArg[]): void {
  forEachNode(env, nodeIdxs(args), 'processing append thread', (idx) => processAppendThread(env, idx));
}

/** `process-apply-thread 1`: node 1's apply thread applies its oldest queued batch of entries. */
export function handleProcessApplyThread(env: InteractionEnv, args: CmdArg[]): void {
  forEachNode(env, nodeIdxs(args), 'processing apply thread', (idx) => processApplyThread(env, idx));
}

/** Takes the Ready of the node at `idx`, prints it and handles it. */
export function processReady(env: InteractionEnv, idx: number): void {
  const n = env.node(idx);
  const rd = n.rawNode.ready();
  env.output.write(describeReady(rd));
  const asyncWrites = n.config.asyncStorageWrites === true;
  if (!asyncWrites) {
    processAppend(n, rd.hardState, rd.entries, rd.snapshot);
    processApply(n, rd.committedEntries);
  }
  for (const m of rd.messages) {
    if (m.to === LocalAppendThread || m.to === LocalApplyThread) {
      if (!asyncWrites) {
        throw new Error(`unexpected local message target in ${describeMessage(m)}`);
      }
      if (m.type === MessageType.MsgStorageAppend) {
        n.appendWork.push(m);
      } else if (m.type === MessageType.MsgStorageApply) {
        n.applyWork.push(m);
      } else {
        throw new Error(`unexpected message type ${MessageType[m.type]}`);
      }
    } else {
      env.messages.push(m);
    }
  }
  if (!asyncWrites) {
    n.rawNode.advance();
  }
}

/** Performs the oldest queued storage write of the node at `idx` and sends the responses it carried. */
export function processAppendThread(env: InteractionEnv, idx: number): void {
  const n = env.node(idx);
  const work = n.appendWork.shift();
  if (work === undefined) {
    env.output.write('no append work to perform');
    return;
  }
  const m = { ...work, responses: [] };
  env.output.write('Processing:\n' + describeMessage(m) + '\n');
  const hs: HardState = { term: m.term, vote: m.vote, commit: m.commit };
  processAppend(n, hs, m.entries, m.snapshot ?? emptySnapshot());
  env.output.write('Responses:\n' + work.responses.map((r) => describeMessage(r) + '\n').join(''));
  env.messages.push(...work.responses);
}

/** Applies the oldest queued batch of committed entries of the node at `idx` and sends the responses it carried. */
export function processApplyThread(env: InteractionEnv, idx: number): void {
  const n = env.node(idx);
  const work = n.applyWork.shift();
  if (work === undefined) {
    env.output.write('no apply work to perform');
    return;
  }
  const m = { ...work, responses: [] };
  env.output.write('Processing:\n' + describeMessage(m) + '\n');
  processApply(n, m.entries);
  env.output.write('Responses:\n' + work.responses.map((r) => describeMessage(r) + '\n').join(''));
  env.messages.push(...work.responses);
}

// Persists what a Ready (or a MsgStorageAppend) asks to persist. An empty HardState means "unchanged".
function processAppend(n: Node, hs: HardState, entries: Entry[], snap: Snapshot): void {
  const memory = n.storage.memory;
  if (!isEmptyHardState(hs)) {
    memory.setHardState(hs);
  }
  if (!isEmptySnapshot(snap)) {
    if (entries.length > 0) {
      throw new Error("can't apply snapshot and entries at the same time");
    }
    memory.applySnapshot(snap);
    return;
  }
  memory.append(entries);
}

function copyConfState(cs: ConfState): ConfState {
  return {
    voters: [...cs.voters],
    learners: [...cs.learners],
    votersOutgoing: [...cs.votersOutgoing],
    learnersNext: [...cs.learnersNext],
    autoLeave: cs.autoLeave,
  };
}

// Applies committed entries to the node's state machine, which appends each entry's data (or a configuration
// change's context) to the previous state and records the result as the next snapshot of its history.
function processApply(n: Node, entries: Entry[]): void {
  for (const e of entries) {
    let update: Uint8Array;
    let cs: ConfState | null = null;
    if (e.type === EntryType.EntryConfChange) {
      const cc = decodeConfChange(e.data);
      update = cc.context;
      cs = n.rawNode.applyConfChange(cc);
    } else if (e.type === EntryType.EntryConfChangeV2) {
      const cc = decodeConfChangeV2(e.data);
      update = cc.context;
      cs = n.rawNode.applyConfChange(cc);
    } else {
      update = e.data;
    }
    const last = n.history[n.history.length - 1];
    const data = new Uint8Array(last.data.length + update.length);
    data.set(last.data, 0);
    data.set(update, last.data.length);
    n.history.push({
      data,
      metadata: { index: e.index, term: e.term, confState: copyConfState(cs ?? last.metadata.confState) },
    });
  }
}

/**
 * `stabilize [ids...] [log-level=...]`: handles Ready, delivers messages and runs the storage threads of the given
 * nodes (all by default), round after round, until a round finds nothing to do. A log level given here applies
 * only while stabilizing.
 */
export function handleStabilize(env: InteractionEnv, args: CmdArg[]): void {
  const idxs = nodeIdxs(args);
  const savedLevel = env.output.level;
  try {
    for (const arg of args) {
      for (const val of arg.vals) {
        if (arg.key === 'log-level') {
          env.output.setLevel(val);
        }
      }
    }
    stabilize(env, idxs);
  } finally {
    env.output.level = savedLevel;
  }
}

/** Runs rounds of Ready handling, delivery and storage work on the nodes at `idxs` until nothing is left to do. */
export function stabilize(env: InteractionEnv, idxs: number[]): void {
  const nodes = idxs.length > 0 ? idxs.map((i) => env.node(i)) : [...env.nodes];
  for (;;) {
    let done = true;
    for (const n of nodes) {
      if (n.rawNode.hasReady()) {
        env.output.write(`> ${n.config.id} handling Ready\n`);
        env.withIndent(() => processReady(env, n.config.id - 1));
        done = false;
      }
    }
    for (const n of nodes) {
      const id = n.config.id;
      if (splitMsgs(env.messages, id, null, false).matching.length > 0) {
        env.output.write(`> ${id} receiving messages\n`);
        env.withIndent(() => deliverMsgs(env, null, [{ id, drop: false }]));
        done = false;
      }
    }
    for (const n of nodes) {
      if (n.appendWork.length > 0) {
        env.output.write(`> ${n.config.id} processing append thread\n`);
        while (n.appendWork.length > 0) {
          env.withIndent(() => processAppendThread(env, n.config.id - 1));
        }
        done = false;
      }
    }
    for (const n of nodes) {
      if (n.applyWork.length > 0) {
        env.output.write(`> ${n.config.id} processing apply thread\n`);
        while (n.applyWork.length > 0) {
          env.withIndent(() => processApplyThread(env, n.config.id - 1));
        }
        done = false;
      }
    }
    if (done) {
      return;
    }
  }
}
