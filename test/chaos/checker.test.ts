// The linearizability checker on histories whose verdict is known: hand-made good and bad ones, and large random
// histories generated from a real linearizable register (every one must pass).

import { SeededRand } from '../../raft/rand';
import { Op, checkHistory } from './checker';

let nextId = 1;
function op(client: number, kind: Op['kind'], call: number, ret: number | null, result: Partial<Op> = {}, key = 'k'): Op {
  return {
    id: nextId++,
    client,
    member: 1,
    key,
    kind,
    call,
    ret: ret ?? Infinity,
    outcome: ret === null ? 'unknown' : 'ok',
    ...result,
  };
}
const put = (c: number, v: string, call: number, ret: number | null, existed = false, key = 'k'): Op => op(c, 'put', call, ret, { value: v, existed }, key);
const get = (c: number, read: string | null, call: number, ret: number, key = 'k'): Op => op(c, 'get', call, ret, { read }, key);
const del = (c: number, existed: boolean, call: number, ret: number | null, key = 'k'): Op => op(c, 'delete', call, ret, { existed }, key);

describe('known-good histories pass', () => {
  test('sequential puts, gets and deletes', () => {
    const h = [get(1, null, 0, 1), put(1, 'a', 2, 3), get(2, 'a', 4, 5), put(2, 'b', 6, 7, true), del(1, true, 8, 9), get(1, null, 10, 11), del(2, false, 12, 13)];
    expect(checkHistory(h).linearizable).toBe(true);
  });

  test('a read concurrent with a write may see either value', () => {
    expect(checkHistory([put(1, 'a', 0, 1), put(2, 'b', 2, 10, true), get(3, 'a', 3, 4), get(3, 'b', 5, 6), get(1, 'b', 11, 12)]).linearizable).toBe(true);
  });

  test('an unknown write may take effect long after it was invoked, or never', () => {
    expect(checkHistory([put(1, 'a', 0, null), get(2, null, 10, 11), get(2, 'a', 50, 51), get(3, 'a', 60, 61)]).linearizable).toBe(true);
    expect(checkHistory([put(1, 'a', 0, null), get(2, null, 10, 11), get(2, null, 50, 51)]).linearizable).toBe(true);
  });

  test('keys are independent', () => {
    const h = [put(1, 'a', 0, 1, false, 'x'), put(2, 'a2', 0, 1, false, 'y'), get(1, 'a2', 2, 3, 'y'), get(2, 'a', 2, 3, 'x')];
    expect(checkHistory(h).linearizable).toBe(true);
  });

  test('random histories of a linearizable register with concurrent clients and unknown outcomes pass', () => {
    for (let seed = 1; seed <= 20; seed++) {
      const h = linearizableHistory(seed, 400, 8, 4);
      const result = checkHistory(h);
      expect(result.inconclusive).toEqual([]);
      expect({ seed, ok: result.linearizable, failure: result.failure }).toEqual({ seed, ok: true, failure: undefined });
    }
  });
});

describe('known-bad histories fail', () => {
  test('a stale read after a newer write completed', () => {
    const r = checkHistory([put(1, 'a', 0, 1), put(1, 'b', 2, 3, true), get(2, 'a', 4, 5)]);
    expect(r.linearizable).toBe(false);
    expect(r.failure).toMatch(/not linearizable/);
  });

  test('a read of a value nobody wrote', () => {
    expect(checkHistory([put(1, 'a', 0, 1), get(2, 'zzz', 2, 3)]).linearizable).toBe(false);
  });

  test('an acknowledged write that is lost', () => {
    expect(checkHistory([put(1, 'a', 0, 1), get(2, null, 2, 3)]).linearizable).toBe(false);
  });

  test('a value that comes back after it was overwritten (reads going back in time)', () => {
    expect(checkHistory([put(1, 'a', 0, 1), put(1, 'b', 2, 20, true), get(2, 'b', 3, 4), get(3, 'a', 5, 6)]).linearizable).toBe(false);
  });

  test('an unknown write seen, then unseen with no delete', () => {
    expect(checkHistory([put(1, 'a', 0, null), get(2, 'a', 10, 11), get(2, null, 12, 13)]).linearizable).toBe(false);
  });

  test('answers that contradict the register: two creations without a delete, a delete of an absent key that found it', () => {
    expect(checkHistory([put(1, 'a', 0, 1, false), put(2, 'b', 2, 3, false)]).linearizable).toBe(false);
    expect(checkHistory([del(1, true, 0, 1)]).linearizable).toBe(false);
  });

  test('the printout shows the smallest failing window, not the whole history', () => {
    const good = linearizableHistory(7, 300, 5, 1);
    const end = Math.max(...good.filter((o) => o.ret !== Infinity).map((o) => o.ret)) + 10;
    // After everything, one client writes and another then reads the value from before it.
    const h = [...good, put(9, 'late', end, end + 1, true, 'key0'), get(9, 'late', end + 2, end + 3, 'key0'), get(8, null, end + 4, end + 5, 'key0')];
    const r = checkHistory(h);
    expect(r.linearizable).toBe(false);
    expect(r.failedKey).toBe('key0');
    const lines = (r.failure ?? '').split('\n').filter((l) => l.startsWith('  ['));
    expect(lines.length).toBeLessThanOrEqual(3);
    expect(r.failure).toMatch(/client 8 via member 1: get\s+-> not found/);
    expect(r.failure).toMatch(/whatever value the key held before the window/);
  });
});

// A register shared by `clients` clients: each operation takes effect at a random instant between its invocation
// and its return, and answers what the register held then. `unknownEvery` in a hundred writes lose their answer
// (some of them never took effect, some did).
function linearizableHistory(seed: number, count: number, clients: number, unknownPercent: number): Op[] {
  const rand = new SeededRand(seed);
  const keys = ['key0', 'key1', 'key2'];
  const registers = new Map<string, string | null>();
  const ops: (Op & { at: number; happens: boolean })[] = [];
  const clock = new Array<number>(clients).fill(0);
  for (let i = 0; i < count; i++) {
    const client = rand.intn(clients);
    const call = (clock[client] ?? 0) + rand.intn(5);
    const ret = call + 1 + rand.intn(30);
    clock[client] = ret + 1;
    const roll = rand.intn(10);
    const kind: Op['kind'] = roll < 4 ? 'put' : roll < 8 ? 'get' : 'delete';
    const unknown = kind !== 'get' && rand.intn(100) < unknownPercent;
    ops.push({
      id: nextId++, client, member: 1, key: keys[rand.intn(keys.length)] ?? 'key0', kind, call,
      ret: unknown ? Infinity : ret, outcome: unknown ? 'unknown' : 'ok',
      ...(kind === 'put' ? { value: `v${seed}-${i}` } : {}),
      at: call + rand.intn(ret - call) + 0.5, happens: !unknown || rand.intn(2) === 0,
    });
  }
  for (const o of [...ops].sort((a, b) => a.at - b.at)) {
    if (!o.happens) continue;
    const before = registers.get(o.key) ?? null;
    if (o.kind === 'get') o.read = before;
    else o.existed = before !== null;
    registers.set(o.key, o.kind === 'put' ? (o.value ?? null) : o.kind === 'delete' ? null : before);
  }
  return ops.map(({ at: _at, happens: _happens, ...rest }) => rest);
}
