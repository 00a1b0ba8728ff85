import fc from 'fast-check';

import { Changer, ConfChangeError, describeChanges } from '../../raft/confchange/confchange';
import { restore } from '../../raft/confchange/restore';
import { ProgressTracker } from '../../raft/tracker/tracker';
import { ConfChangeSingle, ConfChangeType, ConfState, emptyConfState } from '../../raft/types';

const { ConfChangeAddNode: ADD, ConfChangeAddLearnerNode: LEARN, ConfChangeRemoveNode: REMOVE } = ConfChangeType;

function cc(type: ConfChangeType, nodeId: number): ConfChangeSingle {
  return { type, nodeId };
}

// A changer whose tracker holds the result of applying `setup` one simple change at a time.
function changerAfter(setup: ConfChangeSingle[], lastIndex = 10): Changer {
  const c = new Changer(new ProgressTracker(10, 0), lastIndex);
  for (const change of setup) [c.tracker.config, c.tracker.progress] = c.simple(change);
  return c;
}

function snapshotOf(c: Changer): string {
  return `${c.tracker.config.toString()}\n${c.tracker.progress.toString()}`;
}

function codeOf(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    if (e instanceof ConfChangeError) return e.code;
    throw e;
  }
  return 'no error';
}

describe('Changer', () => {
  test('never modifies the tracker it reads from', () => {
    const c = changerAfter([cc(ADD, 1), cc(ADD, 2), cc(LEARN, 3)]);
    const before = snapshotOf(c);
    const [cfg, trk] = c.enterJoint(true, cc(REMOVE, 1), cc(LEARN, 2), cc(ADD, 3), cc(ADD, 4));
    expect(cfg.toString()).toBe('voters=(3 4)&&(1 2) learners_next=(2) autoleave');
    expect(trk.size).toBe(4);
    c.simple(cc(LEARN, 2));
    expect(snapshotOf(c)).toBe(before);
    expect(c.tracker.progress.get(3)?.isLearner).toBe(true);
  });

  test('new peers are probed from the last index and count as recently active', () => {
    const c = changerAfter([cc(ADD, 1)], 7);
    const [, trk] = c.simple(cc(LEARN, 2));
    expect(trk.get(2)?.toString()).toBe('StateProbe match=0 next=7 learner');
  });

  test('refuses changes with error codes naming the problem', () => {
    const empty = new Changer(new ProgressTracker(10, 0), 0);
    expect(codeOf(() => empty.enterJoint(false, cc(ADD, 1)))).toBe('ZeroVoterJoint');
    expect(codeOf(() => empty.leaveJoint())).toBe('NotJoint');
    expect(codeOf(() => empty.simple(cc(LEARN, 1)))).toBe('RemovedAllVoters');
    const c = changerAfter([cc(ADD, 1), cc(ADD, 2)]);
    expect(codeOf(() => c.simple(cc(ADD, 3), cc(ADD, 4)))).toBe('TooManyVoterChanges');
    expect(codeOf(() => c.simple(cc(REMOVE, 1), cc(REMOVE, 2)))).toBe('RemovedAllVoters');
    expect(codeOf(() => c.simple({ type: 7 as ConfChangeType, nodeId: 3 }))).toBe('UnexpectedType');
    expect(() => c.simple({ type: 7 as ConfChangeType, nodeId: 3 })).toThrow('unexpected conf type 7');
    [c.tracker.config, c.tracker.progress] = c.enterJoint(false, cc(ADD, 3));
    expect(codeOf(() => c.enterJoint(false))).toBe('AlreadyJoint');
    expect(codeOf(() => c.simple(cc(ADD, 4)))).toBe('SimpleInJoint');
    expect(codeOf(() => c.leaveJoint())).toBe('no error');
  });

  test('refuses to start from a tracker that breaks the invariants', () => {
    const c = changerAfter([cc(ADD, 1)]);
    c.tracker.config.learners.add(1);
    expect(() => c.simple(cc(ADD, 2))).toThrow('1 is in Learners and Voters[0]');
    c.tracker.config.learners.clear();
    c.tracker.config.voters.incoming.add(5);
    expect(() => c.simple(cc(ADD, 2))).toThrow('no progress for 5');
  });

  test('describeChanges prints changes as etcd does', () => {
    expect(describeChanges([cc(ADD, 2), cc(REMOVE, 3)])).toBe('ConfChangeAddNode(2) ConfChangeRemoveNode(3)');
  });

  // Node 1 is always a voter, so that simple changes can always proceed one at a time.
  const setupArb = fc
    .array(fc.integer({ min: 1, max: 5 }), { minLength: 1, maxLength: 5 })
    .map((ids) => [cc(ADD, 1), ...ids.map((id) => cc(ADD, id))]);
  const changesArb = fc.array(
    fc.record({
      type: fc.constantFrom(ADD, LEARN, REMOVE, ConfChangeType.ConfChangeUpdateNode),
      nodeId: fc.integer({ min: 2, max: 10 }),
    }),
    { minLength: 1, maxLength: 9 },
  );

  test('a joint change and the same changes applied one by one arrive at the same configuration', () => {
    fc.assert(
      fc.property(setupArb, changesArb, (setup, ccs) => {
        const one = changerAfter(setup);
        for (const change of ccs) [one.tracker.config, one.tracker.progress] = one.simple(change);

        const joint = changerAfter(setup);
        const [cfg, trk] = joint.enterJoint(false, ...ccs);
        const [cfgAuto, trkAuto] = joint.enterJoint(true, ...ccs);
        expect(cfgAuto.autoLeave).toBe(true);
        cfgAuto.autoLeave = false;
        expect(cfgAuto).toEqual(cfg);
        expect(trkAuto).toEqual(trk);
        [joint.tracker.config, joint.tracker.progress] = [cfg, trk];
        [joint.tracker.config, joint.tracker.progress] = joint.leaveJoint();

        expect(joint.tracker.config).toEqual(one.tracker.config);
        expect(joint.tracker.progress).toEqual(one.tracker.progress);
        expect(snapshotOf(joint)).toBe(snapshotOf(one));
      }),
      { numRuns: 500 },
    );
  });
});

function sorted(cs: ConfState): ConfState {
  const s = (ids: number[]): number[] => [...ids].sort((a, b) => a - b);
  return {
    voters: s(cs.voters),
    learners: s(cs.learners),
    votersOutgoing: s(cs.votersOutgoing),
    learnersNext: s(cs.learnersNext),
    autoLeave: cs.autoLeave,
  };
}

// A random valid ConfState: disjoint voters, learners and removed voters; the outgoing half keeps some of the
// voters plus the removed ones; only removed voters may be staged as learners.
const confStateArb = fc
  .record({
    nVoters: fc.integer({ min: 1, max: 5 }),
    nLearners: fc.integer({ min: 0, max: 4 }),
    nRemoved: fc.integer({ min: 0, max: 2 }),
    retained: fc.nat(),
    staged: fc.nat(),
    autoLeave: fc.boolean(),
  })
  .chain((r) =>
    fc
      .shuffledSubarray(
        Array.from({ length: 2 * (r.nVoters + r.nLearners + r.nRemoved) }, (_, i) => i + 1),
        { minLength: r.nVoters + r.nLearners + r.nRemoved, maxLength: r.nVoters + r.nLearners + r.nRemoved },
      )
      .map((ids): ConfState => {
        const voters = ids.slice(0, r.nVoters);
        const learners = ids.slice(r.nVoters, r.nVoters + r.nLearners);
        const removed = ids.slice(r.nVoters + r.nLearners);
        const votersOutgoing = [...voters.slice(0, r.retained % (r.nVoters + 1)), ...removed];
        const learnersNext = removed.slice(0, r.staged % (removed.length + 1));
        return { voters, learners, votersOutgoing, learnersNext, autoLeave: votersOutgoing.length > 0 && r.autoLeave };
      }),
  );

describe('restore', () => {
  function roundTrip(cs: ConfState): ConfState {
    const changer = new Changer(new ProgressTracker(20, 0), 10);
    const t = new ProgressTracker(20, 0);
    [t.config, t.progress] = restore(changer, cs);
    // The changer's own tracker is untouched.
    expect(changer.tracker.config.toString()).toBe('voters=()');
    expect(changer.tracker.progress.size).toBe(0);
    return t.confState();
  }

  test.each<[string, ConfState]>([
    ['empty', emptyConfState()],
    ['voters', { ...emptyConfState(), voters: [1, 2, 3] }],
    ['voters and learners', { ...emptyConfState(), voters: [1, 2, 3], learners: [4, 5, 6] }],
    [
      'joint',
      { voters: [1, 2, 3], learners: [5], votersOutgoing: [1, 2, 4, 6], learnersNext: [4], autoLeave: false },
    ],
    [
      'joint, unsorted, auto-leaving',
      { voters: [3, 1], learners: [], votersOutgoing: [2, 1], learnersNext: [2], autoLeave: true },
    ],
  ])('rebuilds the %s configuration', (_name, cs) => {
    expect(roundTrip(cs)).toEqual(sorted(cs));
  });

  test('rebuilds the joint example with demotions staged', () => {
    const cs = { voters: [1, 2, 3], learners: [5], votersOutgoing: [1, 2, 4, 6], learnersNext: [4], autoLeave: true };
    const [cfg, trk] = restore(new Changer(new ProgressTracker(20, 0), 10), cs);
    expect(cfg.toString()).toBe('voters=(1 2 3)&&(1 2 4 6) learners=(5) learners_next=(4) autoleave');
    expect([...trk.keys()].sort()).toEqual([1, 2, 3, 4, 5, 6]);
  });

  test('restore then confState() gives back any valid ConfState', () => {
    fc.assert(
      fc.property(confStateArb, (cs) => {
        expect(roundTrip(cs)).toEqual(sorted(cs));
      }),
      { numRuns: 500 },
    );
  });

  test('refuses a configuration without voters', () => {
    const changer = new Changer(new ProgressTracker(20, 0), 10);
    expect(() => restore(changer, { ...emptyConfState(), learners: [1] })).toThrow('removed all voters');
  });
});
