// # Replaying etcd's quorum scenarios
//
// Commands:
//   committed cfg=(ids) [cfgj=(ids)|cfgj=zero] idx=(i|_, ...)   prints the acknowledgement table and the index
//   vote      cfg=(ids) [cfgj=(ids)|cfgj=zero] votes=(y|n|_, ...) prints the VoteResult
// Values are given per distinct voter in the order the voters first appear in cfg then cfgj; `_` means unknown.
// Besides the answer, the harness checks answers that must not change (other computations, swapped halves, lowered
// indexes) and prints a line only when one does, so a passing file also proves those.

import { JointConfig } from '../quorum/joint';
import { MajorityConfig } from '../quorum/majority';
import { AckedIndexer, VoteResult, formatIndex, mapAckedIndexer } from '../quorum/quorum';
import { TestData } from './datadriven';

/**
 * The committed index by definition: the largest index that at least a majority of voters have acknowledged
 * (a voter with no known index counts as having acknowledged 0).
 */
export function bruteForceCommittedIndex(c: MajorityConfig, l: AckedIndexer): number {
  if (c.size === 0) return Number.POSITIVE_INFINITY;
  const acked = [...c].map((id) => l.ackedIndex(id) ?? 0);
  const quorum = Math.floor(c.size / 2) + 1;
  let best = 0;
  for (const candidate of acked) {
    if (acked.filter((a) => a >= candidate).length >= quorum) best = Math.max(best, candidate);
  }
  return best;
}

function parseId(key: string, val: string): number {
  if (!/^\d+$/.test(val)) throw new Error(`${key}: ${JSON.stringify(val)} is not a node ID`);
  return Number(val);
}

// Assigns values[k] to the k-th distinct voter of ids then idsj; zero entries (from `_`) mean "unknown".
function lookup(values: number[], ids: number[], idsj: number[]): Map<number, number> {
  const m = new Map<number, number>();
  let p = 0;
  for (const id of [...ids, ...idsj]) {
    if (m.has(id)) continue;
    if (p < values.length) m.set(id, values[p++]);
  }
  for (const [id, v] of m) if (v === 0) m.delete(id);
  return m;
}

/** Runs one command of a quorum scenario file (`committed` or `vote`) and returns its output. */
export function handleQuorum(d: TestData): string {
  let joint = false;
  const ids: number[] = [];
  const idsj: number[] = [];
  const idxs: number[] = [];
  const votes: number[] = [];
  for (const arg of d.cmdArgs) {
    for (const val of arg.vals) {
      switch (arg.key) {
        case 'cfg':
          ids.push(parseId(arg.key, val));
          break;
        case 'cfgj':
          joint = true;
          if (val === 'zero') {
            if (arg.vals.length !== 1) throw new Error("cannot mix 'zero' into configuration");
          } else {
            idsj.push(parseId(arg.key, val));
          }
          break;
        case 'idx': {
          const n = val === '_' ? 0 : parseId(arg.key, val);
          if (val !== '_' && n === 0) throw new Error('cannot use 0 as idx');
          idxs.push(n);
          break;
        }
        case 'votes':
          if (val === 'y') votes.push(2);
          else if (val === 'n') votes.push(1);
          else if (val === '_') votes.push(0);
          else throw new Error(`unknown vote: ${val}`);
          break;
        default:
          throw new Error(`unknown arg ${arg.key}`);
      }
    }
  }

  const c = new MajorityConfig(ids);
  const cj = new MajorityConfig(idsj);
  const input = d.cmd === 'vote' ? votes : idxs;
  const voters = new JointConfig(c, cj).ids();
  if (voters.size !== input.length) {
    const set = voters.slice().map((id) => `${id}:{}`).join(' ');
    return `error: mismatched input (explicit or _) for voters map[${set}]: [${input.join(' ')}]`;
  }

  let out = '';
  switch (d.cmd) {
    case 'committed': {
      const l = mapAckedIndexer(lookup(idxs, ids, idsj));
      if (!joint) {
        const idx = c.committedIndex(l);
        out += c.describe(l);
        const alt = bruteForceCommittedIndex(c, l);
        if (alt !== idx) out += `${formatIndex(alt)} <-- via alternative computation\n`;
        const zeroJoint = new JointConfig(c, []).committedIndex(l);
        if (zeroJoint !== idx) out += `${formatIndex(zeroJoint)} <-- via zero-joint quorum\n`;
        const selfJoint = new JointConfig(c, c).committedIndex(l);
        if (selfJoint !== idx) out += `${formatIndex(selfJoint)} <-- via self-joint quorum\n`;
        // Lowering the index of a voter already above the committed index must not change it.
        const overlay = (id: number, to: number): AckedIndexer => {
          const m = new Map<number, number>();
          for (const other of c) {
            const v = other === id ? to : l.ackedIndex(other);
            if (v !== undefined) m.set(other, v);
          }
          return mapAckedIndexer(m);
        };
        for (const id of c) {
          const iidx = l.ackedIndex(id) ?? 0;
          if (idx > iidx && iidx > 0) {
            const lower = c.committedIndex(overlay(id, iidx - 1));
            if (lower !== idx) out += `${formatIndex(lower)} <-- overlaying ${id}->${iidx}`;
            const zero = c.committedIndex(overlay(id, 0));
            if (zero !== idx) out += `${formatIndex(zero)} <-- overlaying ${id}->0`;
          }
        }
        out += `${formatIndex(idx)}\n`;
      } else {
        const cc = new JointConfig(c, cj);
        out += cc.describe(l);
        const idx = cc.committedIndex(l);
        const swapped = new JointConfig(cj, c).committedIndex(l);
        if (swapped !== idx) out += `${formatIndex(swapped)} <-- via symmetry\n`;
        out += `${formatIndex(idx)}\n`;
      }
      break;
    }
    case 'vote': {
      const l = new Map<number, boolean>();
      for (const [id, v] of lookup(votes, ids, idsj)) l.set(id, v !== 1);
      if (!joint) {
        out += `${VoteResult[c.voteResult(l)]}\n`;
      } else {
        const r = new JointConfig(c, cj).voteResult(l);
        const swapped = new JointConfig(cj, c).voteResult(l);
        if (swapped !== r) out += `${VoteResult[swapped]} <-- via symmetry\n`;
        out += `${VoteResult[r]}\n`;
      }
      break;
    }
    default:
      throw new Error(`unknown command: ${d.cmd}`);
  }
  return out;
}
