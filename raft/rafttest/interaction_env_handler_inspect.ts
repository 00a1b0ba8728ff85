// # Inspecting nodes
//
// Commands that print state without changing it: a node's stored log, every node's role and term, a leader's view
// of its followers' progress, and `log-level`, which chooses how much of the core's logging the output shows.

import { describeEntries } from '../describe';
import { StateType } from '../types';
import { CmdArg } from './datadriven';
import { InteractionEnv } from './interaction_env';
import { InteractionError, firstAsNodeIdx } from './interaction_env_args';

/** `log-level debug`: from now on, show the core's log lines at this level and above (NONE hides all output). */
export function handleLogLevel(env: InteractionEnv, args: CmdArg[]): void {
  if (args[0] === undefined) {
    throw new InteractionError('log-level expects a level name');
  }
  env.output.setLevel(args[0].key);
}

/** `raft-log 1`: the entries in node 1's storage. */
export function handleRaftLog(env: InteractionEnv, args: CmdArg[]): void {
  raftLog(env, firstAsNodeIdx(args));
}

/** Prints the entries in the storage of the node at `idx`. */
export function raftLog(env: InteractionEnv, idx: number): void {
  const storage = env.node(idx).storage;
  const first = storage.firstIndex();
  const last = storage.lastIndex();
  if (last < first) {
    env.output.write(`log is empty: first index=${first}, last index=${last}`);
    return;
  }
  env.output.write(describeEntries(storage.entries(first, last + 1, Number.MAX_SAFE_INTEGER)));
}

/** `raft-state`: for every node, its role, whether it votes, its term and the leader it knows, as it sees them. */
export function handleRaftState(env: InteractionEnv): void {
  for (const n of env.nodes) {
    const st = n.rawNode.status();
    const voter = st.config.voters.ids().has(st.id) ? '(Voter)' : '(Non-Voter)';
    env.output.write(`${st.id}: ${StateType[st.raftState]} ${voter} Term:${st.term} Lead:${st.lead}\n`);
  }
}

/** `status 1`: node 1's progress of every peer, one line per peer in ID order (empty unless node 1 leads). */
export function handleStatus(env: InteractionEnv, args: CmdArg[]): void {
  const st = env.node(firstAsNodeIdx(args)).rawNode.status();
  const ids = [...st.progress.keys()].sort((a, b) => a - b);
  for (const id of ids) {
    env.output.write(`${id}: ${String(st.progress.get(id))}\n`);
  }
}
