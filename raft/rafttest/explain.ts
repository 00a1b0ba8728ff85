// # Saying why each event happened
//
// The browser simulator shows every event of a run in a side log, and names the rule of the paper that made it
// happen: a vote granted is RV2, an entry deleted because it conflicts is AE3, a commit by counting replicas of a
// current-term entry is L4. The rule IDs are those of [the paper map](../../docs/paper-map.md); each rule also
// names the function that implements it, so a page can link the event to its line of source.
//
// Explaining works by looking at a node just before and just after one step of the cluster: its role, term, vote,
// log and commit index, and the messages the core queued in answer. Nothing here changes the run.

import { Message, MessageType, NodeId, None, StateType } from '../types';
import { Cluster, NextEvent } from './cluster';
import { SimNode } from './simnode';
import { latin1 } from './trace';

/** Where a rule is implemented: a file and a function (or method) defined in it. */
export interface RuleSource {
  file: string;
  symbol: string;
}

/** One rule of the paper's Figure 2, or a mechanism beyond it. */
export interface Rule {
  /** What the rule says, briefly. */
  title: string;
  /** Where the paper (or Ongaro's thesis) states it. */
  paper: string;
  source: RuleSource;
}

// Figure 2's IDs as in docs/paper-map.md; PV, CQ, RI, LT, MC and IS name the mechanisms beyond Figure 2, and
// NET and USER what the network and the person at the controls do.
export const rules = {
  S1: {
    title: 'persist currentTerm, votedFor and log[] before answering',
    paper: '§5.1, Figure 2 (State)',
    source: { file: 'raft/rawnode.ts', symbol: 'ready' },
  },
  A1: {
    title: 'apply committed entries in log order',
    paper: '§5.3, Figure 2 (All servers)',
    source: { file: 'raft/log.ts', symbol: 'nextCommittedEnts' },
  },
  A2: {
    title: 'a newer term: adopt it and become follower',
    paper: '§5.1, Figure 2 (All servers)',
    source: { file: 'raft/raft.ts', symbol: 'step' },
  },
  RV1: {
    title: 'refuse a vote to a candidate of an older term',
    paper: '§5.1, Figure 2 (RequestVote)',
    source: { file: 'raft/raft.ts', symbol: 'stepStaleTerm' },
  },
  RV2: {
    title: 'one vote per term, only for a log at least as up-to-date',
    paper: '§5.2, §5.4.1, Figure 2 (RequestVote)',
    source: { file: 'raft/raft.ts', symbol: 'handleVoteRequest' },
  },
  AE1: {
    title: 'refuse entries from a leader of an older term',
    paper: '§5.1, Figure 2 (AppendEntries)',
    source: { file: 'raft/raft.ts', symbol: 'stepStaleTerm' },
  },
  AE2: {
    title: 'refuse entries whose predecessor (prevLogIndex, prevLogTerm) is not in the log',
    paper: '§5.3, Figure 2 (AppendEntries)',
    source: { file: 'raft/raft.ts', symbol: 'handleAppendEntries' },
  },
  AE3: {
    title: 'delete a conflicting entry and all that follow it',
    paper: '§5.3, Figure 2 (AppendEntries)',
    source: { file: 'raft/log.ts', symbol: 'findConflict' },
  },
  AE4: {
    title: 'append the new entries',
    paper: '§5.3, Figure 2 (AppendEntries)',
    source: { file: 'raft/log.ts', symbol: 'maybeAppend' },
  },
  AE5: {
    title: "advance commitIndex to the leader's, up to the last new entry",
    paper: '§5.3, Figure 2 (AppendEntries)',
    source: { file: 'raft/log.ts', symbol: 'commitTo' },
  },
  F1: {
    title: 'a follower answers leaders and candidates, and its election timer restarts',
    paper: '§5.2, Figure 2 (Followers)',
    source: { file: 'raft/raft.ts', symbol: 'stepFollower' },
  },
  F2: {
    title: 'no word from a leader within the election timeout: become candidate',
    paper: '§5.2, Figure 2 (Followers)',
    source: { file: 'raft/raft.ts', symbol: 'tickElection' },
  },
  C1: {
    title: 'a candidate increments its term, votes for itself and asks everyone',
    paper: '§5.2, Figure 2 (Candidates)',
    source: { file: 'raft/raft.ts', symbol: 'becomeCandidate' },
  },
  C2: {
    title: 'votes from a majority: become leader',
    paper: '§5.2, Figure 2 (Candidates)',
    source: { file: 'raft/raft.ts', symbol: 'poll' },
  },
  C3: {
    title: 'a candidate hearing from a leader of its term becomes follower',
    paper: '§5.2, Figure 2 (Candidates)',
    source: { file: 'raft/raft.ts', symbol: 'stepCandidate' },
  },
  C4: {
    title: 'the election timeout passes again: a new election',
    paper: '§5.2, Figure 2 (Candidates)',
    source: { file: 'raft/raft.ts', symbol: 'tickElection' },
  },
  L1: {
    title: 'a leader sends heartbeats while idle',
    paper: '§5.2, Figure 2 (Leaders)',
    source: { file: 'raft/raft.ts', symbol: 'tickHeartbeat' },
  },
  L2: {
    title: 'a client command is appended to the leader’s log',
    paper: '§5.3, Figure 2 (Leaders)',
    source: { file: 'raft/raft.ts', symbol: 'stepLeaderProp' },
  },
  L3: {
    title: 'track nextIndex and matchIndex; back up on a rejection and retry',
    paper: '§5.3, Figure 2 (Leaders)',
    source: { file: 'raft/raft.ts', symbol: 'handleAppendResponse' },
  },
  L4: {
    title: 'commit N once a majority holds it and log[N] is of the current term',
    paper: '§5.3, §5.4.2, Figure 2 (Leaders)',
    source: { file: 'raft/raft.ts', symbol: 'maybeCommit' },
  },
  PV: {
    title: 'PreVote: ask whether an election could be won before raising the term',
    paper: 'thesis §9.6',
    source: { file: 'raft/raft.ts', symbol: 'becomePreCandidate' },
  },
  CQ: {
    title: 'CheckQuorum and the leader lease: ignore disruptive votes, step down without a quorum',
    paper: 'thesis §6.2, §6.4, §4.2.3',
    source: { file: 'raft/raft.ts', symbol: 'tickHeartbeat' },
  },
  RI: {
    title: 'ReadIndex: confirm leadership with a heartbeat round, then answer at the commit index',
    paper: '§8, thesis §6.4',
    source: { file: 'raft/raft.ts', symbol: 'stepLeaderReadIndex' },
  },
  LT: {
    title: 'leadership transfer: catch the target up, then tell it to campaign now',
    paper: 'thesis §3.10',
    source: { file: 'raft/raft.ts', symbol: 'handleTransferLeader' },
  },
  MC: {
    title: 'membership change: a configuration entry takes effect when applied; joint consensus needs both majorities',
    paper: '§6, thesis §4.3',
    source: { file: 'raft/raft.ts', symbol: 'applyConfChange' },
  },
  IS: {
    title: 'InstallSnapshot: a follower behind the compacted log receives a snapshot',
    paper: '§7, Figure 13',
    source: { file: 'raft/raft.ts', symbol: 'handleSnapshot' },
  },
  NET: {
    title: 'the network loses, delays and cuts messages',
    paper: '§5.1 (messages may be lost)',
    source: { file: 'raft/rafttest/network.ts', symbol: 'send' },
  },
  USER: {
    title: 'something done from the controls',
    paper: '',
    source: { file: 'raft/rafttest/timeline.ts', symbol: 'act' },
  },
} satisfies Record<string, Rule>;

/** The ID of a rule in `rules`. */
export type RuleId = keyof typeof rules;

/** One line of the side log. */
export interface Explanation {
  /** The position in the run after which this happened (0: before the first step). */
  step: number;
  /** Simulated milliseconds. */
  at: number;
  /** The node it happened at (None for the network as a whole). */
  node: NodeId;
  text: string;
  rule: RuleId;
  /** Routine upkeep (a heartbeat and its answer, a Ready that only sends): a page may hide it. */
  routine: boolean;
}

/** What explaining needs to know of a node, taken before and after a step. */
export interface NodeBrief {
  up: boolean;
  role: StateType;
  term: number;
  vote: NodeId;
  lead: NodeId;
  lastIndex: number;
  commit: number;
  applied: number;
  snapshotIndex: number;
  persistedTerm: number;
  persistedVote: NodeId;
  persistedLast: number;
  // Messages the core has queued and not yet handed out.
  queued: number;
}

/** The state of node `n` that explanations compare. */
export function brief(n: SimNode): NodeBrief {
  const r = n.rawNode?.raft;
  const hs = n.hardState;
  return {
    up: r !== undefined,
    role: r?.state ?? StateType.StateFollower,
    term: r?.term ?? hs.term,
    vote: r?.vote ?? hs.vote,
    lead: r?.lead ?? None,
    lastIndex: r?.raftLog.lastIndex() ?? n.storage.lastIndex(),
    commit: r?.raftLog.committed ?? hs.commit,
    applied: n.appliedIndex,
    snapshotIndex: n.storage.snapshot().metadata.index,
    persistedTerm: hs.term,
    persistedVote: hs.vote,
    persistedLast: n.storage.lastIndex(),
    queued: r === undefined ? 0 : r.msgs.length + r.msgsAfterAppend.length,
  };
}

/** What must be known about a message's receiver before it is stepped, because the step changes it. */
export interface Precheck {
  node: NodeBrief | null;
  connected: boolean;
  // MsgApp: whether the receiver holds the entry before the new ones, and where the first conflict lies.
  matches: boolean;
  conflict: number;
  sentBefore: number;
  traceBefore: number;
}

/** Takes what `explain()` will need about the event `ev` before the cluster steps it. */
export function precheck(c: Cluster, ev: NextEvent): Precheck {
  const id = ev.kind === 'message' ? ev.message.to : ev.node;
  const n = c.nodes.get(id);
  const out: Precheck = {
    node: n === undefined ? null : brief(n),
    connected: ev.kind !== 'message' || c.network.connected(ev.message.from, ev.message.to),
    matches: true,
    conflict: 0,
    sentBefore: c.network.stats.sent,
    traceBefore: c.trace.length,
  };
  const r = n?.rawNode?.raft;
  if (ev.kind === 'message' && ev.message.type === MessageType.MsgApp && r !== undefined) {
    out.matches = r.raftLog.matchTerm({ index: ev.message.index, term: ev.message.logTerm });
    out.conflict = out.matches ? r.raftLog.findConflict(ev.message.entries) : 0;
  }
  return out;
}

const roleName: Record<StateType, string> = {
  [StateType.StateFollower]: 'follower',
  [StateType.StateCandidate]: 'candidate',
  [StateType.StateLeader]: 'leader',
  [StateType.StatePreCandidate]: 'pre-candidate',
};

/** The name of a role as the page shows it. */
export function describeRole(role: StateType): string {
  return roleName[role];
}

/**
 * Explains the event `ev` that the cluster just stepped (as position `step`), from what `precheck` saw before.
 * Returns null for an event with nothing to tell (a clock tick that changed nothing, a Ready with nothing in it).
 */
export function explain(c: Cluster, ev: NextEvent, pre: Precheck, step: number): Explanation | null {
  const id = ev.kind === 'message' ? ev.message.to : ev.node;
  const n = c.nodes.get(id);
  const before = pre.node;
  if (n === undefined || before === null) {
    return null;
  }
  const after = brief(n);
  const quiet = before.term === after.term && before.role === after.role && before.commit === after.commit;
  const say = (rule: RuleId, text: string): Explanation => ({
    step,
    at: ev.at,
    node: id,
    text,
    rule,
    routine: quiet && routinePattern.test(text),
  });
  if (ev.kind === 'message') {
    return explainMessage(ev.message, n, before, after, pre, say);
  }
  switch (ev.kind) {
    case 'tick':
      return explainTick(id, n, before, after, say);
    case 'ready':
    case 'append':
    case 'apply': {
      const sent = c.network.stats.sent - pre.sentBefore;
      const added = c.trace.length - pre.traceBefore;
      const notes = added > 0 ? c.trace.lines().slice(-added).map((l) => l.replace(/^\s*\d+ms /, '')) : [];
      return explainReady(id, before, after, sent, notes, say);
    }
    case 'snapStatus':
      return say('IS', `${id} learns how its snapshot fared and resumes replication`);
  }
}

type Say = (rule: RuleId, text: string) => Explanation;

// The lines of upkeep that change nothing (when the node's term, role and commit index stay as they were).
const routinePattern = /hears its leader \d+: the election timer restarts$|hears \d+ is alive$|sends heartbeats to|handles its Ready: sends \d+ messages?$|matches at \d+\/\d+$/;

// The messages the core queued while stepping (its answers), newest last.
function answers(n: SimNode, before: NodeBrief): Message[] {
  const r = n.rawNode?.raft;
  if (r === undefined) {
    return [];
  }
  return [...r.msgs, ...r.msgsAfterAppend].slice(before.queued);
}

function explainMessage(m: Message, n: SimNode, before: NodeBrief, after: NodeBrief, pre: Precheck, say: Say): Explanation {
  const what = `${m.from}→${m.to} ${MessageType[m.type]}`;
  if (!pre.connected) {
    return say('NET', `${what} is cut by the partition`);
  }
  if (!before.up) {
    return say('NET', `${what} is lost: ${m.to} is down`);
  }
  if (!after.up) {
    return say('NET', `${what} is refused: ${m.from} was removed`);
  }
  const id = m.to;
  const adopted = after.term > before.term;
  const deposed = before.role === StateType.StateLeader && after.role !== StateType.StateLeader;
  // A deposed leader's step is A2 at heart, whatever the message.
  const sayStep: Say = (rule, text) => say(deposed && rule !== 'RV2' && rule !== 'RV1' ? 'A2' : rule, text);
  const termNote = !adopted ? '' : deposed ? ` (term ${m.term} is newer: ${id} stops leading, A2)` : ` (term ${m.term} is newer: ${id} adopts it)`;
  if (m.term !== 0 && m.term < before.term) {
    const vote = m.type === MessageType.MsgVote || m.type === MessageType.MsgPreVote;
    return vote
      ? sayStep('RV1', `${id} refuses ${m.from}: term ${m.term} is older than its ${before.term}`)
      : sayStep('AE1', `${id} ignores ${MessageType[m.type]} from ${m.from}: term ${m.term} is older than its ${before.term}`);
  }
  const reply = answers(n, before);
  const rejected = (t: MessageType): boolean | undefined => reply.find((r) => r.type === t && r.to === m.from)?.reject;
  switch (m.type) {
    case MessageType.MsgVote: {
      const r = rejected(MessageType.MsgVoteResp);
      if (r === undefined) {
        return sayStep('CQ', `${id} ignores ${m.from}'s vote request: it heard from its leader within the election timeout`);
      }
      if (!r) {
        return sayStep('RV2', `${id} votes for ${m.from} in term ${m.term}: its log (last ${m.logTerm}/${m.index}) is at least as up-to-date${termNote}`);
      }
      const why = before.vote !== None && before.term === m.term ? `it already voted for ${before.vote}` : `its own log is more up-to-date than ${m.logTerm}/${m.index}`;
      return sayStep('RV2', `${id} refuses its vote to ${m.from}: ${why}${termNote}`);
    }
    case MessageType.MsgPreVote: {
      const r = rejected(MessageType.MsgPreVoteResp);
      if (r === undefined) {
        return sayStep('CQ', `${id} ignores ${m.from}'s pre-vote: it heard from its leader within the election timeout`);
      }
      return sayStep('PV', `${id} ${r ? 'would refuse' : 'would grant'} ${m.from} a vote for term ${m.term}; its own term stays ${after.term}`);
    }
    case MessageType.MsgVoteResp:
    case MessageType.MsgPreVoteResp: {
      const pv = m.type === MessageType.MsgPreVoteResp;
      if (after.role === StateType.StateLeader && before.role !== StateType.StateLeader) {
        return sayStep('C2', `${id} has votes from a majority: it leads term ${after.term}`);
      }
      if (pv && after.role === StateType.StateCandidate && before.role === StateType.StatePreCandidate) {
        return sayStep('C1', `${id} could win: it becomes candidate for term ${after.term} and votes for itself`);
      }
      if (adopted || (after.role === StateType.StateFollower && before.role !== StateType.StateFollower)) {
        return sayStep(adopted ? 'A2' : 'C2', `${id} loses the ${pv ? 'pre-' : ''}election and becomes follower${termNote}`);
      }
      const campaigning = pv ? StateType.StatePreCandidate : StateType.StateCandidate;
      if (before.role !== campaigning) {
        return sayStep('C2', `${id} is not campaigning any more: the answer from ${m.from} no longer counts`);
      }
      return sayStep(pv ? 'PV' : 'C2', `${id} counts a ${m.reject ? 'refusal' : 'vote'} from ${m.from}`);
    }
    case MessageType.MsgApp: {
      const lead = before.role === StateType.StateCandidate ? ` and, as candidate, becomes follower (C3)` : '';
      if (!pre.matches) {
        return sayStep('AE2', `${id} has no entry ${m.logTerm}/${m.index} before the new ones: it refuses them, hinting where its log diverges${termNote}${lead}`);
      }
      const parts: string[] = [];
      let rule: RuleId = 'AE4';
      if (pre.conflict > 0 && pre.conflict <= before.lastIndex) {
        rule = 'AE3';
        parts.push(`deletes its conflicting entries from index ${pre.conflict} on and appends the leader's`);
      } else if (after.lastIndex > before.lastIndex) {
        const first = before.lastIndex + 1;
        parts.push(first === after.lastIndex ? `appends entry ${first}` : `appends entries ${first}..${after.lastIndex}`);
      } else {
        parts.push(m.entries.length > 0 ? 'already has these entries' : `matches at ${m.logTerm}/${m.index}`);
      }
      if (after.commit > before.commit) {
        parts.push(`commits up to ${after.commit} as the leader has (AE5)`);
        if (rule === 'AE4' && after.lastIndex === before.lastIndex) {
          rule = 'AE5';
        }
      }
      return sayStep(rule, `${id} ${parts.join(', ')}${termNote}${lead}`);
    }
    case MessageType.MsgHeartbeat: {
      const commit = after.commit > before.commit ? `, commits up to ${after.commit} (AE5)` : '';
      if (before.role === StateType.StateCandidate || before.role === StateType.StatePreCandidate) {
        return sayStep('C3', `${id} hears leader ${m.from} of term ${m.term}: it stops campaigning and follows${commit}`);
      }
      const ctx = m.context.length > 0 ? ` and confirms read ${latin1(m.context)}` : '';
      return sayStep('F1', `${id} hears its leader ${m.from}: the election timer restarts${commit}${ctx}${termNote}`);
    }
    case MessageType.MsgAppResp: {
      if (after.role !== StateType.StateLeader) {
        return sayStep(adopted ? 'A2' : 'L3', `${id} is not leading any more${termNote}`);
      }
      if (m.reject) {
        return sayStep('L3', `${id} hears ${m.from} lacks entry ${m.index}: it backs nextIndex up (hint ${m.rejectHint}) and retries`);
      }
      if (after.commit > before.commit) {
        return sayStep('L4', `${id} counts ${m.from} holding ${m.index}: a majority holds entries of term ${after.term} up to ${after.commit}, so they commit`);
      }
      return sayStep('L3', `${id} records ${m.from}'s matchIndex ${m.index}`);
    }
    case MessageType.MsgHeartbeatResp: {
      const ctx = m.context.length > 0 ? ` confirming read ${latin1(m.context)}` : '';
      return sayStep(m.context.length > 0 ? 'RI' : 'L1', `${id} hears ${m.from} is alive${ctx}`);
    }
    case MessageType.MsgProp:
      return after.lastIndex > before.lastIndex
        ? sayStep('L2', `${id} appends the forwarded client entry at ${after.lastIndex}`)
        : sayStep('L2', `${id} cannot take the forwarded proposal: it is not the leader`);
    case MessageType.MsgSnap:
      return sayStep('IS', `${id} installs ${m.from}'s snapshot ${m.snapshot?.metadata.term ?? 0}/${m.snapshot?.metadata.index ?? 0}: its log now starts after it${termNote}`);
    case MessageType.MsgTimeoutNow:
      return sayStep('LT', `${id} is told to campaign now: it becomes candidate for term ${after.term} without waiting`);
    case MessageType.MsgTransferLeader:
      return sayStep('LT', `${id} is asked to hand leadership to ${m.from}`);
    case MessageType.MsgReadIndex:
      return sayStep('RI', `${id} takes a read request forwarded by ${m.from}: it notes its commit index and confirms it still leads`);
    case MessageType.MsgReadIndexResp:
      return sayStep('RI', `${id} learns the read index ${m.index}: the read is answered once it has applied that far`);
    default:
      return sayStep(adopted ? 'A2' : 'F1', `${id} steps ${what}${termNote}`);
  }
}

function explainTick(id: NodeId, n: SimNode, before: NodeBrief, after: NodeBrief, say: Say): Explanation | null {
  if (!after.up) {
    return null;
  }
  const asked = answers(n, before).some((m) => m.type === MessageType.MsgPreVote);
  if (after.role === StateType.StatePreCandidate && asked) {
    const again = before.role === StateType.StatePreCandidate ? ' again' : '';
    return say('PV', `${id}'s election timer runs out${again}: it asks whether it could win term ${after.term + 1} before raising its term`);
  }
  if (after.role === StateType.StateCandidate && after.term > before.term) {
    const rule: RuleId = before.role === StateType.StateCandidate ? 'C4' : 'F2';
    const again = rule === 'C4' ? 'again' : `with no word from a leader`;
    return say(rule, `${id}'s election timer runs out ${again}: it becomes candidate for term ${after.term}, votes for itself and asks for votes (C1)`);
  }
  if (before.role === StateType.StateLeader && after.role !== StateType.StateLeader) {
    return say('CQ', `${id} has not heard from a majority within an election timeout: it steps down`);
  }
  const beats = answers(n, before).filter((m) => m.type === MessageType.MsgHeartbeat).length;
  if (after.role === StateType.StateLeader && beats > 0) {
    return say('L1', `${id} sends heartbeats to ${beats} follower${beats === 1 ? '' : 's'}`);
  }
  return null;
}

// `notes` are the trace lines the cluster wrote while the node handled its Ready: reads answered, configurations
// applied.
function explainReady(id: NodeId, before: NodeBrief, after: NodeBrief, sent: number, notes: string[], say: Say): Explanation | null {
  const wrote: string[] = [];
  if (after.persistedTerm !== before.persistedTerm || after.persistedVote !== before.persistedVote) {
    wrote.push(`term ${after.persistedTerm} vote ${after.persistedVote}`);
  }
  if (after.snapshotIndex > before.snapshotIndex) {
    wrote.push(`snapshot ${after.snapshotIndex}`);
  }
  if (after.persistedLast !== before.persistedLast) {
    wrote.push(after.persistedLast > before.persistedLast ? `entries up to ${after.persistedLast}` : `a log cut back to ${after.persistedLast}`);
  }
  const parts: string[] = [];
  if (wrote.length > 0) {
    parts.push(`writes ${wrote.join(', ')} to disk`);
  }
  if (sent > 0) {
    parts.push(`${wrote.length > 0 ? 'then ' : ''}sends ${sent} message${sent === 1 ? '' : 's'}`);
  }
  if (after.applied > before.applied) {
    const first = before.applied + 1;
    parts.push(`applies ${first === after.applied ? first : `${first}..${after.applied}`} to its state machine (A1)`);
  }
  let rule: RuleId = wrote.length > 0 || after.applied === before.applied ? 'S1' : 'A1';
  for (const line of notes) {
    const conf = /^\d+ applied EntryConfChange\w* at (\d+): (.*)$/.exec(line);
    if (conf !== null) {
      parts.push(`its configuration is now ${conf[2]} (MC)`);
      rule = 'MC';
    }
    const read = /^\d+ answers read (\S+) at index (\d+)$/.exec(line);
    if (read !== null) {
      parts.push(`answers read ${read[1]} at index ${read[2]} (RI)`);
      rule = rule === 'MC' ? rule : 'RI';
    }
  }
  if (parts.length === 0) {
    return null;
  }
  return say(rule, `${id} handles its Ready: ${parts.join(', ')}`);
}
