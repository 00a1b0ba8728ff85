// Randomized runs of a five-node cluster over a network that drops, duplicates and reorders messages, with
// checkInvariants() on every node after every event, and Figure 3's Election Safety and State Machine Safety
// checked across nodes.

import { Raft } from '../../raft/raft';
import { SeededRand } from '../../raft/rand';
import { Message, MessageType, StateType } from '../../raft/types';
import { propMsg, readMessages, stepQuiet, storageWith, newTestRaft } from '../paper/net';

interface RunOptions {
  preVote: boolean;
  checkQuorum: boolean;
}

function run(seed: number, events: number, opts: RunOptions): { commits: number; leaders: number } {
  const rand = new SeededRand(seed);
  const ids = [1, 2, 3, 4, 5];
  const nodes = new Map<number, Raft>(
    ids.map((id) => [
      id,
      newTestRaft(id, 10, 1, storageWith(ids), { ...opts, rand: new SeededRand(seed * 31 + id) }),
    ]),
  );
  let inflight: Message[] = [];
  const leaderOfTerm = new Map<number, number>();
  const committedAt = new Map<number, string>();
  const checkedUpTo = new Map<number, number>();

  const collect = (r: Raft): void => {
    inflight.push(...readMessages(r));
  };
  const check = (): void => {
    for (const r of nodes.values()) {
      r.checkInvariants();
      if (r.state === StateType.StateLeader) {
        const other = leaderOfTerm.get(r.term);
        if (other !== undefined && other !== r.id) {
          throw new Error(`Election Safety: ${other} and ${r.id} both lead term ${r.term}`);
        }
        leaderOfTerm.set(r.term, r.id);
      }
      // Committed entries never change, so each node's are checked once.
      const log = r.raftLog;
      const from = Math.max(log.firstIndex(), (checkedUpTo.get(r.id) ?? 0) + 1);
      checkedUpTo.set(r.id, log.committed);
      for (let i = from; i <= log.committed; i++) {
        const e = log.slice(i, i + 1, Infinity)[0];
        const key = `${e.term}/${new TextDecoder().decode(e.data)}`;
        const seen = committedAt.get(i);
        if (seen === undefined) {
          committedAt.set(i, key);
        } else if (seen !== key) {
          throw new Error(`State Machine Safety: index ${i} committed as ${seen} and as ${key} (node ${r.id})`);
        }
      }
    }
  };

  let proposals = 0;
  for (let ev = 0; ev < events; ev++) {
    const x = rand.intn(100);
    if (x < 45 && inflight.length > 0) {
      // Deliver a random in-flight message: the network reorders freely.
      const i = rand.intn(inflight.length);
      const m = inflight[i];
      inflight.splice(i, 1);
      const r = nodes.get(m.to);
      if (r !== undefined) {
        stepQuiet(r, m);
        collect(r);
      }
    } else if (x < 50 && inflight.length > 0) {
      inflight.splice(rand.intn(inflight.length), 1);
    } else if (x < 53 && inflight.length > 0) {
      inflight.push(inflight[rand.intn(inflight.length)]);
    } else if (x < 90) {
      const r = nodes.get(ids[rand.intn(ids.length)]);
      if (r !== undefined) {
        r.tick();
        collect(r);
      }
    } else {
      const r = nodes.get(ids[rand.intn(ids.length)]);
      if (r !== undefined) {
        stepQuiet(r, propMsg(r.id, `p${proposals++}`));
        collect(r);
      }
    }
    if (inflight.length > 500) {
      inflight = inflight.slice(-200);
    }
    check();
  }
  return { commits: committedAt.size, leaders: leaderOfTerm.size };
}

describe('randomized safety', () => {
  const seeds = process.env.TSRAFT_LONG ? 100 : 16;
  for (const opts of [
    { preVote: false, checkQuorum: false },
    { preVote: true, checkQuorum: true },
  ]) {
    test(`no invariant or Figure 3 property breaks (preVote=${opts.preVote}, checkQuorum=${opts.checkQuorum})`, () => {
      let commits = 0;
      let leaders = 0;
      for (let seed = 1; seed <= seeds; seed++) {
        const res = run(seed, 5000, opts);
        commits += res.commits;
        leaders += res.leaders;
      }
      // The runs must make progress, or they prove nothing.
      expect(leaders).toBeGreaterThanOrEqual(seeds);
      expect(commits).toBeGreaterThan(seeds * 5);
    });
  }

  test('checkInvariants catches a broken state', () => {
    const r = newTestRaft(1, 10, 1, storageWith([1, 2, 3]));
    r.becomeCandidate();
    r.vote = 2;
    expect(() => r.checkInvariants()).toThrow('invariant violated');
    const r2 = newTestRaft(1, 10, 1, storageWith([1, 2, 3]));
    r2.raftLog.applied = 5;
    expect(() => r2.checkInvariants()).toThrow('applied 5 <= applying 0');
  });

  test('the message types the core emits are the ones etcd defines', () => {
    expect(MessageType[MessageType.MsgForgetLeader]).toBe('MsgForgetLeader');
  });
});
