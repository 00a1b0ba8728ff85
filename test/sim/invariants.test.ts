// The SafetyChecker must catch each kind of violation it claims to, or the randomized simulation's silence means
// nothing. These tests feed it fabricated observations.

import { InvariantViolation, LogView, SafetyChecker } from '../../raft/rafttest/invariants';

// A log whose entry i has term terms[i - first]; `first - 1` stands for the snapshot, with term `snapTerm`.
function log(terms: number[], first = 1, snapTerm = 0): LogView {
  return {
    firstIndex: () => first,
    lastIndex: () => first + terms.length - 1,
    term: (i: number) => {
      if (i === first - 1) {
        return snapTerm;
      }
      if (i < first || i > first + terms.length - 1) {
        throw new RangeError(`no entry ${i}`);
      }
      return terms[i - first];
    },
  };
}

function violation(f: () => void): InvariantViolation {
  try {
    f();
  } catch (err) {
    if (err instanceof InvariantViolation) {
      return err;
    }
    throw err;
  }
  throw new Error('no violation was reported');
}

const entry = (index: number, term: number, fingerprint = `${term}:0:x${index}`) => ({ index, term, fingerprint });

test('Election Safety: a second leader in one term is caught, across the whole history', () => {
  const c = new SafetyChecker();
  c.observeRole(1, 2, true, log([1, 2]));
  c.observeRole(1, 2, true, log([1, 2]));
  c.observeRole(1, 3, false, log([1, 2]));
  c.nodeDown(1);
  const v = violation(() => c.observeRole(2, 2, true, log([1, 2])));
  expect(v.code).toBe('ElectionSafety');
  expect(v.nodeId).toBe(2);
  expect(v.message).toContain('term 2');
  c.observeRole(2, 3, true, log([1, 2, 3]));
  expect(c.electedLeaders).toBe(2);
});

test('persisted term and commit only grow, and the vote changes only with the term', () => {
  const c = new SafetyChecker();
  c.persistHardState(1, { term: 2, vote: 0, commit: 1 });
  c.persistHardState(1, { term: 2, vote: 3, commit: 1 });
  c.persistHardState(1, { term: 3, vote: 2, commit: 4 });
  expect(violation(() => c.persistHardState(1, { term: 2, vote: 2, commit: 4 })).code).toBe('TermRegression');
  expect(violation(() => c.persistHardState(1, { term: 3, vote: 1, commit: 4 })).code).toBe('VoteChanged');
  expect(violation(() => c.persistHardState(1, { term: 3, vote: 2, commit: 3 })).code).toBe('CommitRegression');
});

test('Leader Append-Only: a leader may only append past its last entry', () => {
  const c = new SafetyChecker();
  c.checkLeaderAppend(1, 4, 8, 7);
  c.checkLeaderAppend(1, null, 3, 7);
  expect(violation(() => c.checkLeaderAppend(1, 4, 7, 7)).code).toBe('LeaderAppendOnly');
});

test('Log Matching: one (index, term) names one entry with one predecessor', () => {
  const c = new SafetyChecker();
  c.persistEntries(1, [entry(1, 1), entry(2, 1), entry(3, 2)], log([1, 1, 2]));
  c.persistEntries(2, [entry(3, 2)], log([1, 1, 2]));
  const differentData = violation(() => c.persistEntries(3, [entry(3, 2, 'other')], log([1, 1, 2])));
  expect(differentData.code).toBe('LogMatching');
  const differentPrefix = violation(() => c.persistEntries(4, [entry(3, 2)], log([1, 2, 2])));
  expect(differentPrefix.code).toBe('LogMatching');
  expect(differentPrefix.message).toContain('follows term 2');
});

test('Leader Completeness: a new leader lacking an entry committed in an earlier term is caught', () => {
  const c = new SafetyChecker();
  c.observeCommit(1, 3, 2, log([1, 2, 2]));
  // Node 2 leads term 3 with a log that never had entry 3.
  expect(violation(() => c.observeRole(2, 3, true, log([1, 2]))).code).toBe('LeaderCompleteness');
  // With the entry, or from inside a snapshot, it is fine.
  c.observeRole(3, 4, true, log([1, 2, 2, 4]));
  c.observeRole(4, 5, true, log([5], 4, 2));
});

test('Leader Completeness: an entry seen committed after a later leader took office is checked against it', () => {
  const c = new SafetyChecker();
  c.observeRole(2, 5, true, log([1, 1, 5]));
  // A node of term 3 reports index 3 committed with term 3; the leader of term 5 has term 5 there.
  expect(violation(() => c.observeCommit(1, 3, 3, log([1, 1, 3]))).code).toBe('LeaderCompleteness');
});

test('State Machine Safety: different entries applied or committed at one index are caught', () => {
  const c = new SafetyChecker();
  c.observeApply(1, 1, 'a');
  c.observeApply(2, 1, 'a');
  const applied = violation(() => c.observeApply(3, 1, 'b'));
  expect(applied.code).toBe('StateMachineSafety');
  expect(applied.message).toContain('node 1 applied a');
  c.observeCommit(1, 2, 1, log([1, 1]));
  expect(violation(() => c.observeCommit(2, 2, 2, log([1, 2]))).code).toBe('StateMachineSafety');
});

test('linearizable reads: an answer older than a write acknowledged before the read began is caught', () => {
  const c = new SafetyChecker();
  c.observeRead(1, 'r1', 12, 12);
  c.observeRead(1, 'r2', 15, 12);
  const v = violation(() => c.observeRead(2, 'r3', 11, 12));
  expect(v.code).toBe('LinearizableRead');
  expect(v.message).toContain('read r3 was given index 11');
});

test("the core's own check failing is reported as a violation of that node", () => {
  const c = new SafetyChecker();
  const v = violation(() => c.coreInvariant(3, new Error('committed 9 <= lastIndex 8')));
  expect(v.code).toBe('CoreInvariant');
  expect(v.message).toBe('CoreInvariant violated on node 3: committed 9 <= lastIndex 8');
});
