// # Linearizability of a key-value history
//
// Each key is a register (put, get, delete), and linearizability is compositional (Herlihy & Wing, 1990): a
// history is linearizable if and only if every key's sub-history is, so each key is checked on its own.
//
// One key's check is the search of Wing & Gong as Lowe improved it (Testing for linearizability, 2017): pick
// an operation that may take effect next, apply it to the model, recurse, back up when the model disagrees with
// what the operation returned. An operation may go next only if it was invoked before every not-yet-placed
// operation that completed had returned (otherwise real time orders that one first). Lowe's memoisation makes it
// practical: the search state is (which operations are placed, the register's value), and a state seen once is
// never explored again.
//
// Outcomes: an `ok` operation took effect exactly once, between its invocation and its return. An `unknown` write
// (a timeout, a 504, a connection lost after the request was sent) may have taken effect at any time after its
// invocation, or never: it has no return time, and the search succeeds without placing it. A `fail` (the service
// said nothing changed, or the request never left) and an unknown read constrain nothing and are left out.

/** What one client operation was and how it ended. */
export interface Op {
  /** Unique within the history. */
  id: number;
  client: number;
  /** The member the request went to. */
  member: number;
  key: string;
  kind: 'put' | 'get' | 'delete';
  /** A put's value (unique in the history). */
  value?: string;
  /** Milliseconds since the start of the run. */
  call: number;
  /** Milliseconds since the start of the run; Infinity for an unknown outcome. */
  ret: number;
  outcome: 'ok' | 'fail' | 'unknown';
  /** A get's answer: the value, or null for "not found". */
  read?: string | null;
  /** A put's or a delete's answer: whether the key existed before (put: 200 rather than 201; delete: not 404). */
  existed?: boolean;
  /** Why it failed or is unknown, for the printout. */
  note?: string;
}

/** The register's value: a string, null (absent), or `anyValue` (a window cut out of a longer history). */
const anyValue = Symbol('any');
type RegisterState = string | null | typeof anyValue;

/** What checking one key found. */
export interface KeyResult {
  key: string;
  ops: number;
  verdict: 'linearizable' | 'not linearizable' | 'inconclusive';
  /** States explored. */
  explored: number;
}

/** What checking a whole history found. */
export interface CheckResult {
  linearizable: boolean;
  keys: KeyResult[];
  /** Keys whose search exceeded its budget (neither proven nor refuted). */
  inconclusive: string[];
  /** The smallest failing window of the first key that is not linearizable, printed for people. */
  failure?: string;
  failedKey?: string;
}

/** Default bound on states explored per key. */
export const defaultBudget = 2_000_000;

/** Checks every key of `history`; prints the smallest failing window of the first key that fails. */
export function checkHistory(history: readonly Op[], budget = defaultBudget): CheckResult {
  const byKey = new Map<string, Op[]>();
  for (const op of history) {
    const list = byKey.get(op.key) ?? [];
    list.push(op);
    byKey.set(op.key, list);
  }
  const result: CheckResult = { linearizable: true, keys: [], inconclusive: [] };
  for (const [key, ops] of [...byKey.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const prepared = prepare(ops);
    const search = searchKey(prepared, null, budget);
    const verdict = search.found === undefined ? 'inconclusive' : search.found ? 'linearizable' : 'not linearizable';
    result.keys.push({ key, ops: prepared.length, verdict, explored: search.explored });
    if (verdict === 'inconclusive') result.inconclusive.push(key);
    if (verdict === 'not linearizable' && result.linearizable) {
      result.linearizable = false;
      result.failedKey = key;
      result.failure = describeFailure(key, prepared, budget);
    }
  }
  return result;
}

/** Only operations that constrain the register, sorted by invocation. */
function prepare(ops: readonly Op[]): Op[] {
  return ops
    .filter((op) => op.outcome === 'ok' || (op.outcome === 'unknown' && op.kind !== 'get'))
    .map((op) => (op.outcome === 'unknown' ? { ...op, ret: Infinity } : op))
    .sort((a, b) => a.call - b.call || a.id - b.id);
}

/** The register after `op`, or undefined when `op`'s answer contradicts `state`. */
function apply(state: RegisterState, op: Op): RegisterState | undefined {
  const known = op.outcome === 'ok';
  switch (op.kind) {
    case 'get':
      if (state === anyValue) return op.read ?? null;
      return op.read === state ? state : undefined;
    case 'put':
      if (known && state !== anyValue && op.existed !== (state !== null)) return undefined;
      return op.value ?? '';
    case 'delete':
      if (known && state !== anyValue && op.existed !== (state !== null)) return undefined;
      return null;
  }
}

function stateKey(state: RegisterState): string {
  return state === anyValue ? '*' : state === null ? '-' : `=${state}`;
}

/**
 * Whether some order of `ops` (sorted by call) that respects real time explains every `ok` answer, starting from
 * `initial`. `found` is undefined when the budget ran out first.
 */
function searchKey(ops: readonly Op[], initial: RegisterState, budget: number): { found: boolean | undefined; explored: number } {
  const n = ops.length;
  const placed = new Uint8Array(n);
  const mustPlace = ops.filter((op) => op.outcome === 'ok').length;
  const seen = new Set<string>();
  let explored = 0;
  let exhausted = false;

  const memoKey = (state: RegisterState): string => {
    let bits = '';
    for (let i = 0; i < n; i += 16) {
      let word = 0;
      for (let j = i; j < Math.min(n, i + 16); j++) if (placed[j] === 1) word |= 1 << (j - i);
      bits += String.fromCharCode(word + 0x100);
    }
    return `${bits}|${stateKey(state)}`;
  };

  const visit = (state: RegisterState, done: number): boolean => {
    if (done === mustPlace) return true;
    const k = memoKey(state);
    if (seen.has(k)) return false;
    seen.add(k);
    if (++explored > budget) {
      exhausted = true;
      return false;
    }
    // The earliest return among the operations not yet placed: nothing invoked after it may go first.
    let horizon = Infinity;
    for (let i = 0; i < n; i++) if (placed[i] === 0) horizon = Math.min(horizon, (ops[i] as Op).ret);
    for (let i = 0; i < n; i++) {
      const op = ops[i] as Op;
      if (op.call > horizon) break;
      if (placed[i] === 1) continue;
      const next = apply(state, op);
      if (next === undefined) continue;
      placed[i] = 1;
      const ok = visit(next, done + (op.outcome === 'ok' ? 1 : 0));
      placed[i] = 0;
      if (ok) return true;
      if (exhausted) return false;
    }
    return false;
  };

  const found = visit(initial, 0);
  return { found: found ? true : exhausted ? undefined : false, explored };
}

// The smallest failing window: first the shortest prefix, cut just after some answer, that fails (operations
// still running at the cut become unknown, which keeps a linearizable prefix linearizable), then the latest start that still fails when the
// register may hold any value at the start (so a failure inside the window is a failure on its own).
function describeFailure(key: string, ops: readonly Op[], budget: number): string {
  const fails = (window: readonly Op[], initial: RegisterState): boolean => searchKey(window, initial, budget).found === false;
  // Cut just after an answer: the first answer no order explains ends the window.
  const cuts = [...new Set(ops.filter((op) => op.ret !== Infinity).map((op) => op.ret))].sort((a, b) => a - b);
  const prefix = (end: number): Op[] => {
    const cut = cuts[end] ?? Infinity;
    return ops
      .filter((op) => op.call <= cut)
      .filter((op) => op.ret <= cut || op.kind !== 'get')
      .map((op) => (op.ret <= cut ? op : { ...op, ret: Infinity, outcome: 'unknown' as const }));
  };
  let lo = 0;
  let hi = cuts.length - 1;
  while (lo < hi) {
    const mid = Math.floor((lo + hi) / 2);
    if (fails(prefix(mid), null)) hi = mid;
    else lo = mid + 1;
  }
  let window = fails(prefix(lo), null) ? prefix(lo) : [...ops];
  const suffix = (start: number): Op[] => {
    const from = (window[start] as Op).call;
    return window.filter((op) => op.call >= from || op.ret >= from);
  };
  let s = 0;
  let t = window.length - 1;
  while (s < t) {
    const mid = Math.ceil((s + t) / 2);
    if (fails(suffix(mid), anyValue)) s = mid;
    else t = mid - 1;
  }
  const cutStart = s > 0 && fails(suffix(s), anyValue);
  if (cutStart) window = suffix(s);
  const lines = [
    `key ${JSON.stringify(key)} is not linearizable: smallest failing window, ${window.length} of the ${ops.length} operations on it`,
    `(times in ms since the start of the run; "?" = no answer: it may have taken effect at any time after its invocation, or never)`,
    ...window.map(formatOp),
    cutStart
      ? 'No order of these operations that respects real time explains every answer, whatever value the key held before the window.'
      : 'No order of these operations that respects real time explains every answer, starting from an absent key.',
  ];
  return lines.join('\n');
}

/** One operation as a line of the failure printout. */
export function formatOp(op: Op): string {
  const ret = op.ret === Infinity ? '?' : op.ret.toFixed(1);
  const what = op.kind === 'put' ? `put ${JSON.stringify(op.value)}` : op.kind;
  let answer: string;
  if (op.outcome === 'unknown') answer = `unknown${op.note === undefined ? '' : ` (${op.note})`}`;
  else if (op.outcome === 'fail') answer = `failed${op.note === undefined ? '' : ` (${op.note})`}`;
  else if (op.kind === 'get') answer = op.read === null || op.read === undefined ? 'not found' : JSON.stringify(op.read);
  else if (op.kind === 'put') answer = op.existed === true ? 'ok (replaced a value)' : 'ok (created)';
  else answer = op.existed === true ? 'ok (deleted)' : 'not found';
  return `  [${op.call.toFixed(1).padStart(9)} .. ${ret.padStart(9)}] client ${op.client} via member ${op.member}: ${what.padEnd(22)} -> ${answer}`;
}
