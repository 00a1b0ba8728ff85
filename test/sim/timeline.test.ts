// The rewindable runs behind the browser simulator: each scenario tells the story its narration tells, a run is a
// pure function of scenario, seed and recorded actions (so rewinding replays to the same state), and dropping a
// message changes the outcome as the split-vote narration says. The page's rule links are checked too.

import path from 'node:path';
import { locateRules } from '../../docs/sim/build';
import { rules } from '../../raft/rafttest/explain';
import { SimState, Timeline } from '../../raft/rafttest/timeline';
import { scenarioById, scenarios } from '../../raft/rafttest/walkthroughs';

function run(id: string, ms: number, seed?: number): Timeline {
  const sc = scenarioById(id);
  const t = new Timeline(sc, seed ?? sc.seed);
  t.advanceUntil(ms);
  return t;
}

function said(t: Timeline, pattern: RegExp): boolean {
  return t.events.some((e) => pattern.test(e.text));
}

function member(s: SimState, id: number): SimState['members'][number] {
  const m = s.members.find((x) => x.id === id);
  if (m === undefined) {
    throw new Error(`no member ${id}`);
  }
  return m;
}

test('the split vote splits: 3 and 4 stand in term 2, neither wins, and 4 wins term 3', () => {
  const t = run('split-vote', 400);
  expect(said(t, /^3's election timer runs out .* term 2/)).toBe(true);
  expect(said(t, /^4's election timer runs out .* term 2/)).toBe(true);
  expect(said(t, /leads term 2/)).toBe(false);
  expect(t.events.find((e) => /has votes from a majority/.test(e.text))?.text).toBe('4 has votes from a majority: it leads term 3');
});

test('dropping 3\'s vote request to 2 ends the split: 4 wins term 2', () => {
  const sc = scenarioById('split-vote');
  const probe = new Timeline(sc, sc.seed);
  while (probe.state().inFlight.every((m) => !(m.from === 3 && m.to === 2 && m.type === 'MsgVote')) && probe.position < 200) {
    probe.advance();
  }
  const position = probe.position;
  const live = Timeline.replay(sc, sc.seed, [], position);
  const vote = live.state().inFlight.find((m) => m.from === 3 && m.to === 2 && m.type === 'MsgVote');
  expect(vote).toBeDefined();
  expect(live.act({ kind: 'drop', message: (vote as { id: number }).id })).toBe(true);
  live.advanceUntil(400);
  expect(said(live, /^2 votes for 4 in term 2/)).toBe(true);
  expect(live.events.find((e) => /has votes from a majority/.test(e.text))?.text).toBe('4 has votes from a majority: it leads term 2');
});

test("Figure 7: 1 wins term 8 without 4 and 5, and every log ends as the leader's", () => {
  const t = run('figure-7', 600);
  expect(said(t, /^4 refuses its vote to 1: its own log is more up-to-date/)).toBe(true);
  expect(said(t, /^5 refuses its vote to 1: its own log is more up-to-date/)).toBe(true);
  expect(said(t, /^1 has votes from a majority: it leads term 8/)).toBe(true);
  expect(t.events.filter((e) => e.rule === 'AE3').map((e) => e.node).sort()).toEqual([4, 5, 6, 7]);
  const s = t.state();
  const leaderLog = JSON.stringify(member(s, 1).log);
  for (const m of s.members) {
    expect(JSON.stringify(m.log)).toBe(leaderLog);
    expect(m.commit).toBe(11);
  }
});

test('Figure 8: x reaches a majority in term 4 uncommitted, and 5 overwrites it in term 5', () => {
  const t = run('figure-8', 1000);
  const notes = t.events.filter((e) => e.node === 0).map((e) => e.text.slice(0, 3));
  expect(notes).toEqual(['mem', '(a)', '(b)', '(b)', '(c)', '(c)', '(d)', '(d)']);
  const s = t.state();
  // Index 3 held x (term 2) on 1, 2 and 3; in the end every member holds 5's term-3 entry there, and y after it.
  for (const m of s.members) {
    expect(m.log.find((e) => e.index === 3)?.term).toBe(3);
    expect(m.log.find((e) => e.index === 4)?.text).toBe('y');
    expect(m.log.some((e) => e.text === 'x')).toBe(false);
  }
  expect(member(s, 5).role).toBe('leader');
  expect(member(s, 5).term).toBe(5);
});

test('the partitioned old leader steps down on rejoining and its uncommitted entry is deleted', () => {
  const t = run('old-leader-rejoins', 1000);
  const s = t.state();
  expect(s.members.filter((m) => m.role === 'leader')).toHaveLength(1);
  for (const m of s.members) {
    expect(m.log.some((e) => e.text === 'lost')).toBe(false);
    expect(m.log.map((e) => e.text)).toContain('b');
  }
  expect(t.events.some((e) => e.rule === 'AE3')).toBe(true);
});

test('with PreVote the rejoining follower does not disturb the leader; without it, it does', () => {
  const prevote = run('prevote', 1500);
  const quiet = prevote.state();
  expect(quiet.members.map((m) => m.term)).toEqual([2, 2, 2]);
  // Cut off, member 3 asks again at every timeout, and never raises its term.
  expect(prevote.events.filter((e) => e.rule === 'PV' && /^3's election timer runs out again/.test(e.text)).length).toBeGreaterThanOrEqual(3);
  const noisy = run('disruptive-rejoin', 1500);
  expect(noisy.state().members.every((m) => m.term > 7)).toBe(true);
  expect(noisy.events.some((e) => e.rule === 'A2' || /stops leading/.test(e.text))).toBe(true);
});

test('joint consensus, transfer, snapshot and ReadIndex scenarios reach their narrated ends', () => {
  const joint = run('joint-consensus', 1000);
  expect(joint.state().members.every((m) => m.membership === 'voter' && m.commit === 4)).toBe(true);
  expect(said(joint, /configuration is now voters \[1 2 3 4 5\] && \[1 2 3\]/)).toBe(true);
  expect(joint.events.filter((e) => e.rule === 'IS' && /installs/.test(e.text))).toHaveLength(2);

  const transfer = run('leadership-transfer', 1000);
  expect(said(transfer, /is told to campaign now/)).toBe(true);
  expect(said(transfer, /took over without waiting/)).toBe(true);

  const snap = run('snapshot', 1000);
  expect(said(snap, /installs 3's snapshot/)).toBe(true);
  expect(snap.state().members.every((m) => m.commit === 6)).toBe(true);

  const read = run('read-index', 1000);
  expect(said(read, /answers read r1/)).toBe(true);
  expect(said(read, /answers read r2/)).toBe(true);
});

test('a run is a pure function of seed and actions: rewinding and replaying gives the same state and log', () => {
  const sc = scenarioById('free-5');
  const t = new Timeline(sc, 42);
  t.runTo(300);
  t.act({ kind: 'crash', node: t.leader() });
  t.runTo(600);
  t.act({ kind: 'propose', node: t.leader() });
  t.act({ kind: 'isolate', node: 2 });
  t.runTo(700);
  const m = t.state().inFlight[0];
  t.act({ kind: 'drop', message: m.id });
  t.runTo(900);
  t.act({ kind: 'heal' });
  t.runTo(1200);
  const at800 = Timeline.replay(sc, 42, t.recorded(), 800, t.horizon);
  const again800 = Timeline.replay(sc, 42, t.recorded(), 800, t.horizon);
  expect(again800.state()).toEqual(at800.state());
  at800.runTo(1200);
  expect(at800.state()).toEqual(t.state());
  expect(at800.events).toEqual(t.events);
});

test('every scenario loads and every rule links to a function that exists', () => {
  for (const sc of scenarios) {
    expect(run(sc.id, 300).events.length).toBeGreaterThan(0);
  }
  const where = locateRules(path.resolve(__dirname, '../..'));
  expect(Object.keys(where).sort()).toEqual(Object.keys(rules).sort());
  expect(where.RV2.file).toBe('raft/raft.ts');
  expect(where.RV2.section).toBeGreaterThan(1);
});
