// # Driving nodes
//
// The commands that make a node act, each a single call of the public RawNode API: campaign, propose, propose a
// configuration change, tick, transfer or forget leadership, report a peer unreachable. `compact` works on a
// node's storage instead, as an application truncating its log after a snapshot would.

import { parseConfChanges } from '../describe';
import { ConfChange, ConfChangeTransition, ConfChangeV2 } from '../types';
import { CmdArg } from './datadriven';
import { InteractionEnv } from './interaction_env';
import {
  InteractionError,
  firstAsNodeIdx,
  nodeIdxs,
  parseBool,
  parseUint,
  scanArg,
} from './interaction_env_args';
import { raftLog } from './interaction_env_handler_inspect';

/** `campaign 1`: node 1 starts an election. */
export function handleCampaign(env: InteractionEnv, args: CmdArg[]): void {
  env.node(firstAsNodeIdx(args)).rawNode.campaign();
}

/** `propose 1 foo`: node 1 proposes an entry with data "foo". */
export function handlePropose(env: InteractionEnv, args: CmdArg[]): void {
  const idx = firstAsNodeIdx(args);
  if (args.length !== 2 || args[1].vals.length > 0) {
    throw new InteractionError('propose expects exactly one key with no values');
  }
  env.node(idx).rawNode.propose(new TextEncoder().encode(args[1].key));
}

function parseTransition(val: string): ConfChangeTransition {
  switch (val) {
    case 'auto':
      return ConfChangeTransition.ConfChangeTransitionAuto;
    case 'implicit':
      return ConfChangeTransition.ConfChangeTransitionJointImplicit;
    case 'explicit':
      return ConfChangeTransition.ConfChangeTransitionJointExplicit;
    default:
      throw new Error(`unknown transition ${val}`);
  }
}

/**
 * `propose-conf-change 1 [v1=true] [transition=explicit]` with the changes as input ("v2 l3 r4"): node 1 proposes
 * a configuration change. An empty input with the default transition leaves a joint configuration.
 */
export function handleProposeConfChange(env: InteractionEnv, args: CmdArg[], input: string): void {
  const idx = firstAsNodeIdx(args);
  let v1 = false;
  let transition = ConfChangeTransition.ConfChangeTransitionAuto;
  for (const arg of args.slice(1)) {
    for (const val of arg.vals) {
      switch (arg.key) {
        case 'v1':
          v1 = parseBool(arg.key, val);
          break;
        case 'transition':
          transition = parseTransition(val);
          break;
        default:
          throw new Error(`unknown command ${arg.key}`);
      }
    }
  }
  const changes = parseConfChanges(input);
  let cc: ConfChange | ConfChangeV2;
  if (v1) {
    if (changes.length !== 1 || transition !== ConfChangeTransition.ConfChangeTransitionAuto) {
      throw new Error('v1 conf change can only have one operation and no transition');
    }
    cc = { type: changes[0].type, nodeId: changes[0].nodeId, context: new Uint8Array(0) };
  } else {
    cc = { transition, changes, context: new Uint8Array(0) };
  }
  env.node(idx).rawNode.proposeConfChange(cc);
}

/**
 * `read-index 1 r1`: node 1 asks for a linearizable read tagged "r1" (§8); the answer arrives as a ReadState in a
 * later Ready. A tsraft addition: etcd's harness has no such command.
 */
export function handleReadIndex(env: InteractionEnv, args: CmdArg[]): void {
  const idx = firstAsNodeIdx(args);
  if (args.length !== 2 || args[1].vals.length > 0) {
    throw new InteractionError('read-index expects exactly one key with no values');
  }
  env.node(idx).rawNode.readIndex(new TextEncoder().encode(args[1].key));
}

/** `tick-election 1`: node 1's clock advances by an election timeout (its randomized timeout may be longer). */
export function handleTickElection(env: InteractionEnv, args: CmdArg[]): void {
  const idx = firstAsNodeIdx(args);
  tick(env, idx, env.node(idx).config.electionTick);
}

/** `tick-heartbeat 1`: node 1's clock advances by a heartbeat interval. */
export function handleTickHeartbeat(env: InteractionEnv, args: CmdArg[]): void {
  const idx = firstAsNodeIdx(args);
  tick(env, idx, env.node(idx).config.heartbeatTick);
}

/** `tick 2 9`: node 2's clock advances by exactly 9 ticks, for scenarios that need a precise count. */
export function handleTick(env: InteractionEnv, args: CmdArg[]): void {
  if (args.length !== 2 || args[1].vals.length !== 0) {
    throw new InteractionError('tick expects a node ID and a tick count');
  }
  tick(env, firstAsNodeIdx(args), parseUint('tick count', args[1].key));
}

/** Ticks the node at `idx` `count` times. */
export function tick(env: InteractionEnv, idx: number, count: number): void {
  const n = env.node(idx);
  for (let i = 0; i < count; i++) {
    n.rawNode.tick();
  }
}

/** `transfer-leadership from=1 to=4`: leader 1 hands leadership to node 4. */
export function handleTransferLeadership(env: InteractionEnv, args: CmdArg[]): void {
  const from = parseUint('from', scanArg(args, 'from'));
  const to = parseUint('to', scanArg(args, 'to'));
  if (from === 0 || from > env.nodes.length) {
    throw new InteractionError('expected valid "from" argument');
  }
  if (to === 0 || to > env.nodes.length) {
    throw new InteractionError('expected valid "to" argument');
  }
  env.node(from - 1).rawNode.transferLeader(to);
}

/** `forget-leader 1`: follower 1 forgets who leads, so that it may vote for another candidate at once. */
export function handleForgetLeader(env: InteractionEnv, args: CmdArg[]): void {
  env.node(firstAsNodeIdx(args)).rawNode.forgetLeader();
}

/** `report-unreachable 1 2`: node 1 learns that its last messages to node 2 were lost. */
export function handleReportUnreachable(env: InteractionEnv, args: CmdArg[]): void {
  const idxs = nodeIdxs(args);
  if (idxs.length !== 2) {
    throw new Error('must specify exactly two node indexes: node on which to report, and reported node');
  }
  env.node(idxs[0]).rawNode.reportUnreachable(env.node(idxs[1]).config.id);
}

/**
 * `set-randomized-election-timeout 1 timeout=5`: pins node 1's current randomized election timeout, so that
 * tick-election deterministically triggers (or does not trigger) an election. It is drawn again on the next role
 * change.
 */
export function handleSetRandomizedElectionTimeout(env: InteractionEnv, args: CmdArg[]): void {
  const n = env.node(firstAsNodeIdx(args));
  const timeout = parseUint('timeout', scanArg(args, 'timeout'));
  if (timeout === 0) {
    throw new InteractionError('timeout must not be zero');
  }
  if (env.options.setRandomizedElectionTimeout !== undefined) {
    env.options.setRandomizedElectionTimeout(n.rawNode, timeout);
  } else {
    n.rawNode.raft.randomizedElectionTimeout = timeout;
  }
}

/** `compact 1 11`: node 1's storage discards its log before index 11; prints the remaining log. */
export function handleCompact(env: InteractionEnv, args: CmdArg[]): void {
  const idx = firstAsNodeIdx(args);
  if (args[1] === undefined) {
    throw new InteractionError('compact expects the new first index');
  }
  const newFirstIndex = parseUint('compact', args[1].key);
  env.node(idx).storage.memory.compact(newFirstIndex);
  raftLog(env, idx);
}
