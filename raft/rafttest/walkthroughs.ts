// # Scenarios the browser simulator loads in one click
//
// Each scenario is a short story from the paper (or Ongaro's thesis), staged on the simulated cluster with a seed
// and a script of cues, and told in a few paragraphs that cite the rules of docs/paper-map.md. The stories run on
// the same core as production; the cues only do what a client, an operator or a broken network could do.

import { ConfChangeTransition, ConfChangeType, MessageType, NodeId, None } from '../types';
import { jointChange } from './confchanges';
import { Cue, Scenario, Staging, Timeline } from './timeline';

// Election timeout 10 ticks (100 to 200 ms, §5.2), a heartbeat every 2 ticks.
const watchable = { electionTick: 10, heartbeatTick: 2 };

/** Whether there is a leader and every running member has applied everything in the leader's log. */
export function settled(t: Timeline): boolean {
  const l = t.leader();
  if (l === None) {
    return false;
  }
  const last = t.cluster.node(l).core.raft.raftLog.lastIndex();
  return [...t.cluster.nodes.values()].every((n) => !n.up || !t.members().includes(n.id) || n.appliedIndex === last);
}

function cue(note: string, rule: Cue['rule'], when: Cue['when'], run: Cue['run'] = () => undefined): Cue {
  return { note, rule, when, run };
}

// Makes node `id` campaign until its term passes every other running member's: a member that already voted in a
// term refuses a second candidate, so a staged election must be of a term nobody voted in yet.
function campaignPastOthers(t: Timeline, id: NodeId): void {
  const others = [...t.cluster.nodes.values()].filter((n) => n.up && n.id !== id);
  const top = Math.max(...others.map((n) => n.rawNode?.raft.term ?? 0));
  while (t.cluster.node(id).core.raft.term <= top) {
    t.cluster.campaign(id);
  }
}

const splitVote: Scenario = {
  id: 'split-vote',
  title: 'A split vote',
  seed: 97,
  narration: [
    'Four members start as followers in term 1. Two election timers run out within a few milliseconds of each other (F2): members 3 and 4 each become candidate for term 2 and vote for themselves (C1).',
    'Each of the other two votes for whichever request reaches it first, and refuses the later one: one vote per term (RV2). The vote splits 2 to 2, and neither candidate has a majority (C2).',
    'Both wait for their election timer again (C4). Because each timeout is drawn afresh from [T, 2T) (§5.2), one of them usually runs out well before the other, and that one wins term 3.',
    'Try it: rewind to just after 3 becomes candidate (about 136 ms), click its MsgVote to 2 (an orange dot on its way from S3 to S2) to drop it, and play. Member 2 then hears only 4 and votes for it: 4 wins term 2 with three votes of four, and there is no split.',
  ],
  stage: () => ({ cluster: { voters: 4, node: watchable }, cues: [] }),
};

// Figure 7: the terms of each log from index 2 (index 1 holds term 1 on every member).
const figure7Logs: Record<NodeId, number[]> = {
  1: [1, 1, 4, 4, 5, 5, 6, 6, 6],
  2: [1, 1, 4, 4, 5, 5, 6, 6],
  3: [1, 1, 4],
  4: [1, 1, 4, 4, 5, 5, 6, 6, 6, 6],
  5: [1, 1, 4, 4, 5, 5, 6, 6, 6, 7, 7],
  6: [1, 1, 4, 4, 4, 4],
  7: [1, 1, 2, 2, 2, 3, 3, 3, 3, 3],
};

const figure7: Scenario = {
  id: 'figure-7',
  title: "Figure 7's logs",
  seed: 1,
  narration: [
    "Figure 7 of the paper: seven members whose logs went different ways under earlier leaders. Member 1 holds the top row (the figure's leader), members 2 to 7 the rows (a) to (f). Member 1 campaigns for term 8.",
    "Members 4 and 5 (rows c and d) refuse their votes: their logs are more up-to-date (RV2, §5.4.1). The other four vote for 1, which wins term 8 with five of seven (C2).",
    "The leader does not know where each follower's log diverges. It sends from its own end; a follower whose log lacks the entry before the new ones refuses (AE2) with a hint, and the leader backs up nextIndex by whole terms (L3, the optimisation at the end of §5.3).",
    "Where a follower holds entries that conflict with the leader's (rows c, d and f), it deletes them and everything after them (AE3) and appends the leader's (AE4). The extra entries of (c) and (d) were never committed, so losing them is safe. Once a majority holds the leader's term-8 entry, it commits (L4).",
  ],
  stage: () => ({
    cluster: { voters: 7, node: watchable, logs: figure7Logs },
    cues: [cue('member 1 campaigns for term 8', 'F2', () => true, (t) => t.cluster.campaign(1))],
  }),
};

function figure8Staging(): Staging {
  let k = 0;
  let since = 0;
  const s1 = 1;
  const s2 = 2;
  const s3 = 3;
  const s4 = 4;
  const s5 = 5;
  const net = (t: Timeline) => t.cluster.network;
  return {
    // One entry per MsgApp, so (c) can replicate the old entry without the new one after it.
    cluster: { voters: 5, node: { ...watchable, maxSizePerMsg: 0 } },
    cues: [
      cue('member 1 campaigns', 'F2', () => true, (t) => t.cluster.campaign(s1)),
      cue('(a) member 1 leads term 2; the network splits {1 2} | {3 4 5}, and a client sends x to 1', 'L2', settled, (t) => {
        t.split([[s1, s2], [s3, s4, s5]]);
        k = t.cluster.node(s1).storage.lastIndex() + 1;
        t.cluster.propose(s1, 'x');
      }),
      cue('(b) x reached 2 only; 1 crashes. 5 campaigns; its entries will reach nobody', 'C1', (t) => t.cluster.node(s2).storage.lastIndex() >= k, (t) => {
        t.cluster.crash(s1);
        net(t).intercept = (m) => (m.from === s5 && m.type === MessageType.MsgApp ? null : m);
        t.cluster.campaign(s5);
      }),
      cue('(b) 5 leads term 3 with votes from 3 and 4, and appends its own entry at the index of x; a client sends y to 5', 'L2', (t) => t.leads(s5), (t) => {
        t.cluster.propose(s5, 'y');
      }),
      cue('(c) 5 crashes; 1 restarts and campaigns for term 4 in {1 2 3 4}; its entries never reach 4, and reach 3 only up to x', 'C1', (t) => t.cluster.node(s5).storage.lastIndex() > k, (t) => {
        t.cluster.crash(s5);
        t.cluster.restart(s1);
        t.split([[s1, s2, s3, s4], [s5]]);
        net(t).intercept = (m) => {
          if (m.from !== s1 || m.type !== MessageType.MsgApp) {
            return m;
          }
          if (m.to === s4) {
            return null;
          }
          return m.to === s3 ? { ...m, entries: m.entries.filter((e) => e.index <= k) } : m;
        };
        campaignPastOthers(t, s1);
      }),
      cue('(c) x (term 2) is now on 1, 2 and 3: a majority, but not of the current term, so it is NOT committed (§5.4.2)', 'L4', (t) => {
        const n3 = t.cluster.node(s3);
        return t.leads(s1) && n3.storage.lastIndex() >= k && n3.storage.term(k) === 2;
      }, (t) => {
        since = t.cluster.now;
      }),
      cue('(d) 1 crashes; 5 restarts in {3 4 5} and campaigns for term 5', 'C1', (t) => t.cluster.now >= since + 60, (t) => {
        t.cluster.crash(s1);
        net(t).intercept = null;
        t.split([[s5, s3, s4], [s1], [s2]]);
        t.cluster.restart(s5);
        campaignPastOthers(t, s5);
      }),
      cue('(d) 5 wins with votes from 3 and 4 (its last term 3 is later than their 2) and overwrites x with its term-3 entry (AE3). Had x counted as committed, it would be lost', 'AE3', (t) => t.leads(s5), (t) => {
        t.cluster.restart(s1);
        t.split([[s1, s2, s3, s4, s5]]);
      }),
    ],
  };
}

const figure8: Scenario = {
  id: 'figure-8',
  title: 'Figure 8: why old-term entries are not committed by counting',
  seed: 13,
  narration: [
    'Figure 8 of the paper, staged message by message. (a) Member 1 leads term 2 and replicates x at index k to member 2 only.',
    '(b) 1 crashes. 5 is elected in term 3 with votes from 3, 4 and itself, and appends a different entry at index k, which reaches nobody.',
    '(c) 5 crashes, 1 restarts and leads term 4, and replicates x to 3. x now sits on a majority (1, 2, 3), but it is from term 2: L4 commits only entries of the current term by counting replicas (§5.4.2), so 1 does not commit it.',
    '(d) 1 crashes. 5 can still win (its last entry, of term 3, is more up-to-date than theirs: RV2) and overwrites x everywhere (AE3). Had 1 committed x, a committed entry would have been lost. Instead, an entry of the current term committing carries the earlier ones with it (Figure 8 (e)).',
  ],
  stage: figure8Staging,
};

function oldLeaderStaging(): Staging {
  let old: NodeId = None;
  return {
    cluster: { voters: 5, node: watchable },
    cues: [
      cue('the leader is cut off from the others; a client sends it a request it cannot commit', 'L2', settled, (t) => {
        old = t.leader();
        t.split([[...t.cluster.nodes.keys()].filter((id) => id !== old), [old]]);
        t.cluster.propose(old, 'lost');
      }),
      cue('the other four elect a leader of a later term, which commits two new requests', 'C2', (t) => {
        const l = t.leader();
        return l !== None && l !== old;
      }, (t) => {
        t.cluster.propose(t.leader(), 'a');
        t.cluster.propose(t.leader(), 'b');
      }),
      // Index 2 is the first leader's empty entry, 3 the new leader's, 4 and 5 the two requests.
      cue('the old leader rejoins', 'USER', (t) => t.leader() !== old && t.cluster.node(t.leader()).appliedIndex >= 5, (t) => {
        t.split([[...t.cluster.nodes.keys()]]);
      }),
    ],
  };
}

const oldLeader: Scenario = {
  id: 'old-leader-rejoins',
  title: 'A partitioned old leader rejoins',
  seed: 3,
  narration: [
    'Five members elect a leader. Then the network cuts the leader off. It does not know: it keeps leading its term, and accepts a client request (L2) that it can never commit, since no majority hears it (L4).',
    "The other four stop hearing heartbeats, and one of them times out (F2), wins a later term (C2) and commits new requests.",
    "When the network heals, the old leader hears a message of a later term and steps down at once (A2). Its uncommitted entry conflicts with the new leader's log and is deleted (AE3): the client that sent it was never told it committed, so nothing promised is lost.",
  ],
  stage: oldLeaderStaging,
};

function rejoinStaging(preVote: boolean): () => Staging {
  return () => {
    let since = 0;
    return {
      cluster: { voters: 3, node: { ...watchable, preVote, checkQuorum: preVote } },
      cues: [
        cue('the network cuts follower 3 off from the others; a client writes two entries without it', 'USER', (t) => settled(t) && t.leader() !== 3, (t) => {
          t.split([[1, 2], [3]]);
          t.cluster.propose(t.leader(), 'a');
          t.cluster.propose(t.leader(), 'b');
          since = t.cluster.now;
        }),
        cue('follower 3 rejoins', 'USER', (t) => t.cluster.now >= since + 700, (t) => {
          t.split([[1, 2, 3]]);
        }),
      ],
    };
  };
}

const preVote: Scenario = {
  id: 'prevote',
  title: 'PreVote stops a disruptive rejoin',
  seed: 5,
  narration: [
    'Three members with PreVote and CheckQuorum (thesis §9.6, §6.2). A follower is cut off, and the other two commit two entries without it. Its election timer runs out again and again, but before raising its term it asks whether it could win (PV): nobody answers, so its term stays where it was.',
    'When it rejoins, its term is no higher than the leader\'s: the leader is not deposed (no A2), and the follower simply hears heartbeats again (F1) and catches up.',
    'Compare "A disruptive rejoin without PreVote": there the isolated follower raises its term at every timeout (C1), and its first message after rejoining, carrying that higher term, forces the healthy leader to step down (A2) and an election nobody needed.',
  ],
  stage: rejoinStaging(true),
};

const disruptive: Scenario = {
  id: 'disruptive-rejoin',
  title: 'A disruptive rejoin without PreVote',
  seed: 5,
  narration: [
    'The same story as "PreVote stops a disruptive rejoin", with PreVote and CheckQuorum off. The isolated follower becomes candidate at every timeout, each time for a higher term (F2, C4, C1).',
    'While it is away, the others commit two entries. When it rejoins, its next vote request carries a much higher term: the leader steps down (A2), though nothing was wrong. Its log lacks the new entries, so nobody votes for it (RV2), and one of the others wins an election nobody needed.',
  ],
  stage: rejoinStaging(false),
};

const joint: Scenario = {
  id: 'joint-consensus',
  title: 'Joint consensus adds two members',
  seed: 11,
  narration: [
    'Three members; members 4 and 5 start empty, outside the configuration. The leader proposes one change adding both. A change of more than one voter goes through a joint configuration, C_old,new (§6, thesis §4.3).',
    'The configuration entry takes effect on each member as it is applied (MC). While joint, an entry commits only with a majority of the old members AND a majority of the new ones (L4 with two quorums), and an election needs both majorities too.',
    'The new members are far behind the compacted log, so the leader sends each a snapshot (IS). Once C_old,new is committed, the leader proposes the plain new configuration and the cluster leaves the joint state.',
  ],
  stage: () => ({
    cluster: { voters: 3, node: watchable },
    cues: [
      cue('members 4 and 5 start empty; the leader proposes adding both at once', 'MC', settled, (t) => {
        t.cluster.addNode(4);
        t.cluster.addNode(5);
        const change = jointChange(ConfChangeTransition.ConfChangeTransitionJointImplicit, [
          [ConfChangeType.ConfChangeAddNode, 4],
          [ConfChangeType.ConfChangeAddNode, 5],
        ]);
        t.cluster.proposeConfChange(t.leader(), change);
      }),
    ],
  }),
};

function transferStaging(): Staging {
  let target: NodeId = None;
  return {
    cluster: { voters: 3, node: watchable },
    cues: [
      cue('a client writes an entry', 'L2', settled, (t) => {
        t.cluster.propose(t.leader(), 'w');
      }),
      cue('the operator asks the leader to hand leadership to another member', 'LT', (t) => settled(t) && t.cluster.node(t.leader()).appliedIndex >= 3, (t) => {
        const l = t.leader();
        target = [...t.cluster.nodes.keys()].filter((id) => id !== l).pop() as NodeId;
        t.cluster.transferLeader(l, target);
      }),
      cue('the new leader took over without waiting for any election timer', 'C2', (t) => target !== None && t.leads(target)),
    ],
  };
}

const transfer: Scenario = {
  id: 'leadership-transfer',
  title: 'Leadership transfer',
  seed: 2,
  narration: [
    'An operator wants the leader elsewhere (to restart its machine, say). The leader stops taking new requests, makes sure the target has every entry (L3), then sends it MsgTimeoutNow (LT, thesis §3.10).',
    'The target campaigns at once, without waiting for its election timer, in a new term (C1). Its log is as up-to-date as anyone\'s, so it wins (RV2, C2), and the old leader becomes its follower (A2).',
  ],
  stage: transferStaging,
};

function snapshotStaging(): Staging {
  let lagging: NodeId = None;
  return {
    cluster: { voters: 3, node: watchable },
    cues: [
      cue('a follower crashes; clients write four entries without it', 'L2', settled, (t) => {
        const l = t.leader();
        lagging = [...t.cluster.nodes.keys()].find((id) => id !== l) as NodeId;
        t.cluster.crash(lagging);
        for (let i = 0; i < 4; i++) {
          t.cluster.propose(l, `s${i}`);
        }
      }),
      cue('the leader snapshots its state machine and compacts its whole log; the follower restarts', 'IS', (t) => {
        const l = t.leader();
        return l !== None && t.cluster.node(l).appliedIndex >= 6;
      }, (t) => {
        t.cluster.snapshot(t.leader(), 0);
        t.cluster.restart(lagging);
      }),
    ],
  };
}

const snapshot: Scenario = {
  id: 'snapshot',
  title: 'A snapshot for a lagging follower',
  seed: 4,
  narration: [
    'A follower is down while the others commit new entries. Then the leader takes a snapshot of its state machine and discards the log it covers (§7).',
    'The follower restarts. The leader would send it the entries after its last one (L3), but they are gone: it sends its snapshot instead (MsgSnap, IS, Figure 13). The follower replaces its state machine and log with the snapshot, and replication goes on from there.',
  ],
  stage: snapshotStaging,
};

const readIndex: Scenario = {
  id: 'read-index',
  title: 'A ReadIndex read',
  seed: 6,
  narration: [
    'A linearizable read must not return stale data, even from a leader that was deposed without knowing it (§8). Writing the read to the log would work but costs a disk write on a majority; ReadIndex (thesis §6.4) avoids that.',
    'The leader notes its commit index as the read index, then sends a round of heartbeats carrying the request\'s ID (RI). Once a majority answers, it knows it was still leader when the read arrived, and the read is answered as soon as it has applied up to the read index.',
    'A read sent to a follower is forwarded to the leader (MsgReadIndex), which does the same and returns the index (MsgReadIndexResp): the follower answers once it has applied that far.',
  ],
  stage: () => ({
    cluster: { voters: 3, node: watchable },
    cues: [
      cue('a client asks the leader for a read', 'RI', settled, (t) => {
        t.cluster.read(t.leader());
      }),
      cue('a client asks a follower for a read', 'RI', (t) => t.cluster.stats.reads >= 1, (t) => {
        const l = t.leader();
        t.cluster.read([...t.cluster.nodes.keys()].find((id) => id !== l) as NodeId);
      }),
    ],
  }),
};

/** A cluster of `voters` members with no script, to play with. */
export function freePlay(voters: number): Scenario {
  return {
    id: `free-${voters}`,
    title: `Free play: ${voters} members`,
    seed: 1,
    narration: [
      'No script: crash, restart, isolate and partition members, drop messages, send client requests and reads, and watch the rules of Figure 2 at work in the log.',
    ],
    stage: () => ({ cluster: { voters, node: watchable }, cues: [] }),
  };
}

/** The scenarios, in the order the page lists them. */
export const scenarios: readonly Scenario[] = [
  freePlay(5),
  splitVote,
  figure7,
  figure8,
  oldLeader,
  preVote,
  disruptive,
  joint,
  transfer,
  snapshot,
  readIndex,
];

/** The scenario named `id` (free play with 3 to 7 members as `free-N`); throws for an unknown name. */
export function scenarioById(id: string): Scenario {
  const free = /^free-([3-7])$/.exec(id);
  if (free !== null) {
    return freePlay(Number(free[1]));
  }
  const s = scenarios.find((x) => x.id === id);
  if (s === undefined) {
    throw new Error(`No scenario named "${id}"`);
  }
  return s;
}
