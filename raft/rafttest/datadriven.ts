// # Data-driven test files
//
// etcd describes whole Raft interactions as scripts: a directive line, optional input lines, a `----` separator and
// the exact text the implementation printed. The format is CockroachDB's "datadriven" format; this module reads and
// writes it so that tsraft can replay etcd's scenario files (raft/testdata/etcd) byte for byte.
//
//     # comment lines and blank lines may sit between cases
//     command pos-arg key=value key=(v1, v2) \
//       continued-arg=1
//     optional input lines
//     ----
//     expected output, ended by the first blank line
//
// Output that itself contains blank lines is framed by doubled separators:
//
//     command
//     ----
//     ----
//     output
//
//     more output
//     ----
//     ----
//
// The module is pure: it works on text, and the test-side wrapper (test/support/datadriven_file.ts) reads and
// rewrites files on disk.
//
// Public API:
// - `interface CmdArg { key: string; vals: string[] }`
// - `interface TestData { pos: string; cmd: string; cmdArgs: CmdArg[]; input: string; expected: string }`
// - `type Handler = (d: TestData) => string`
// - `parseLine(line: string): { cmd: string; cmdArgs: CmdArg[] }` (cmd is '' for a blank line)
// - `parseFile(text: string, fileName: string): TestData[]`
// - `runText(text: string, fileName: string, handler: Handler, options?: RunOptions): RunResult`
// - `rewriteFile(text: string, fileName: string, outputs: (d: TestData) => string): string`
// - argument accessors over `readonly CmdArg[]`: `has`, `getArg`, `getString`, `getInt`, `getBool`,
//   `getStringList`, `getIntList`
// - `unifiedDiff(expected: string, actual: string, context?: number): string`
// - `class DataDrivenError` with `code: DataDrivenErrorCode`

/** One argument of a directive: `key`, `key=value` or `key=(v1, v2, ...)`. A bare `key` has no values. */
export interface CmdArg {
  key: string;
  vals: string[];
}

/** One case of a data-driven file. */
export interface TestData {
  /** `file:line` of the directive, for messages. */
  pos: string;
  /** The first word of the directive line. */
  cmd: string;
  cmdArgs: CmdArg[];
  /** The lines between the directive and the separator, trimmed as a whole. */
  input: string;
  /** The text below the separator; every line ends with a newline. */
  expected: string;
}

/** Runs one case and returns what it printed. */
export type Handler = (d: TestData) => string;

export type DataDrivenErrorCode =
  | 'Parse'
  | 'MissingArgument'
  | 'ArgumentCount'
  | 'BadArgument'
  | 'HandlerFailed';

/** Raised for a malformed file, an argument a handler cannot read, or a handler that threw. */
export class DataDrivenError extends Error {
  override name = 'DataDrivenError';

  constructor(
    readonly code: DataDrivenErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

// ## Directive lines

/**
 * Splits a directive line into its command and arguments, as datadriven's ParseLine does. Values in parentheses
 * may nest parentheses; a comma inside nested parentheses does not split.
 */
export function parseLine(line: string): { cmd: string; cmdArgs: CmdArg[] } {
  const original = line.trim();
  let rest = original;
  if (rest === '') {
    return { cmd: '', cmdArgs: [] };
  }
  const fail = (): never => {
    const column = original.length - rest.length + 1;
    throw new DataDrivenError('Parse', `cannot parse directive at column ${column}: ${original}`);
  };
  // Removes and returns the prefix of `rest` up to (not including) the first of `chars`.
  const until = (chars: string): string => {
    let i = 0;
    while (i < rest.length && !chars.includes(rest[i])) i++;
    const prefix = rest.slice(0, i);
    rest = rest.slice(i);
    return prefix;
  };
  // `rest` starts just past a '(': returns the index just past its matching ')'.
  const skipNested = (from: number): number => {
    let pos = from;
    while (pos < rest.length) {
      const ch = rest[pos++];
      if (ch === ')') return pos;
      if (ch === '(') pos = skipNested(pos);
    }
    return fail();
  };

  const cmd = until(' ');
  if (cmd === '') fail();
  rest = rest.trim();

  const cmdArgs: CmdArg[] = [];
  while (rest !== '') {
    const arg: CmdArg = { key: until(' ='), vals: [] };
    if (arg.key === '') fail();
    if (rest.startsWith('=')) {
      rest = rest.slice(1);
      if (rest === '' || rest.startsWith(' ')) {
        arg.vals.push('');
      } else if (!rest.startsWith('(')) {
        arg.vals.push(until(' '));
      } else {
        // A list: each value ends at a top-level ',' or ')'. The text after a comma is trimmed before the next
        // value starts, but a value keeps any spaces before its comma, as datadriven does.
        rest = rest.slice(1);
        for (let done = false; !done; ) {
          let pos = 0;
          while (pos < rest.length && rest[pos] !== ')' && rest[pos] !== ',') {
            pos = rest[pos] === '(' ? skipNested(pos + 1) : pos + 1;
          }
          if (pos === rest.length) fail();
          done = rest[pos] === ')';
          arg.vals.push(rest.slice(0, pos));
          rest = rest.slice(pos + 1).trim();
        }
      }
    }
    cmdArgs.push(arg);
    rest = rest.trim();
  }
  return { cmd, cmdArgs };
}

// ## Files

// What the reader saw for one case, kept so that a rewrite reproduces everything but the outputs.
interface ParsedCase {
  data: TestData;
  // Lines emitted before the output: comments and blank lines before the case, the directive and its input.
  leading: string[];
}

interface ParsedFile {
  cases: ParsedCase[];
  // Comments and blank lines after the last case.
  trailing: string[];
}

// Splits text into lines the way Go's bufio.Scanner does: a final newline does not start an empty line, and a
// carriage return before a newline is dropped.
function splitLines(text: string): string[] {
  if (text === '') return [];
  const lines = text.split('\n');
  if (text.endsWith('\n')) lines.pop();
  return lines.map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l));
}

const SEPARATOR = '----';

function parse(text: string, fileName: string): ParsedFile {
  const lines = splitLines(text);
  const cases: ParsedCase[] = [];
  let pending: string[] = [];
  let i = 0;
  while (i < lines.length) {
    const raw = lines[i];
    pending.push(raw);
    const pos = `${fileName}:${i + 1}`;
    i++;
    let line = raw.trim();
    if (line.startsWith('#')) continue;
    // A directive may continue onto following lines with a trailing backslash.
    while (line.endsWith('\\') && i < lines.length) {
      const next = lines[i++];
      pending.push(next);
      line = `${line.slice(0, -1)} ${next.trim()}`;
    }
    let parsed: { cmd: string; cmdArgs: CmdArg[] };
    try {
      parsed = parseLine(line);
    } catch (e) {
      throw new DataDrivenError('Parse', `${pos}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
    }
    if (parsed.cmd === '') continue;

    const input: string[] = [];
    let separator = false;
    while (i < lines.length) {
      const l = lines[i++];
      if (l === SEPARATOR) {
        separator = true;
        break;
      }
      pending.push(l);
      input.push(l);
    }
    let expected = '';
    if (separator) {
      const read = readExpected(lines, i, pos);
      expected = read.expected;
      i = read.next;
    }
    const inputText = input.map((l) => `${l}\n`).join('').trim();
    const data: TestData = { pos, cmd: parsed.cmd, cmdArgs: parsed.cmdArgs, input: inputText, expected };
    cases.push({ data, leading: pending });
    pending = [];
  }
  return { cases, trailing: pending };
}

// Reads the output below a separator starting at line `i`; returns it and the index of the first unread line.
function readExpected(lines: string[], i: number, pos: string): { expected: string; next: number } {
  const out: string[] = [];
  if (i < lines.length && lines[i] === SEPARATOR) {
    // The doubled form: read until two separator lines in a row, then swallow the blank line that follows them.
    i++;
    while (i < lines.length) {
      const line = lines[i++];
      if (line === SEPARATOR && i < lines.length) {
        const line2 = lines[i++];
        if (line2 === SEPARATOR) {
          if (i < lines.length && lines[i++] !== '') {
            throw new DataDrivenError('Parse', `${pos}: non-blank line after end of double ---- separator section`);
          }
          break;
        }
        out.push(line, line2);
        continue;
      }
      out.push(line);
    }
  } else {
    // The plain form ends at the first blank line, which is consumed.
    while (i < lines.length) {
      const line = lines[i++];
      if (line.trim() === '') break;
      out.push(line);
    }
  }
  return { expected: out.map((l) => `${l}\n`).join(''), next: i };
}

/** Parses a whole file into its cases. Throws DataDrivenError('Parse') naming the position of a bad directive. */
export function parseFile(text: string, fileName: string): TestData[] {
  return parse(text, fileName).cases.map((c) => c.data);
}

// ## Running and rewriting

/** Options of `runText`. */
export interface RunOptions {
  /** Produce `rewritten`: the file with every output replaced by what the handler printed. */
  rewrite?: boolean;
  /** Keep running after a mismatch. By default the run stops, as later cases usually depend on earlier ones. */
  continueAfterFailure?: boolean;
}

/** The outcome of one case. */
export interface CaseResult {
  data: TestData;
  actual: string;
  passed: boolean;
  /** Empty when passed; otherwise the position, the input and a diff of expected against actual. */
  message: string;
}

export interface RunResult {
  results: CaseResult[];
  /** The rewritten file, when `rewrite` was asked for; null otherwise. */
  rewritten: string | null;
}

// The handler's output always ends with a newline unless it is empty, so that it compares with what the reader
// collected line by line.
function normalizeOutput(actual: string): string {
  return actual !== '' && !actual.endsWith('\n') ? `${actual}\n` : actual;
}

function hasBlankLine(s: string): boolean {
  return splitLines(s).some((l) => l.trim() === '');
}

// Appends the separator and `output` in the form the reader will read back unchanged.
function emitOutput(out: string[], output: string): void {
  out.push(`${SEPARATOR}\n`);
  if (hasBlankLine(output)) {
    out.push(`${SEPARATOR}\n`, output, `${SEPARATOR}\n`, `${SEPARATOR}\n`, '\n');
  } else {
    out.push(output, '\n');
  }
}

function assemble(parsed: ParsedFile, outputs: string[]): string {
  const out: string[] = [];
  parsed.cases.forEach((c, k) => {
    for (const l of c.leading) out.push(`${l}\n`);
    emitOutput(out, outputs[k]);
  });
  for (const l of parsed.trailing) out.push(`${l}\n`);
  const text = out.join('');
  // The blank line that ends the last case is not kept at the end of the file.
  return text.length > 2 && text.endsWith('\n\n') ? text.slice(0, -1) : text;
}

function callHandler(handler: Handler, d: TestData): string {
  try {
    return normalizeOutput(handler(d));
  } catch (e) {
    const input = d.input === '' ? '' : `\n${d.input}`;
    const reason = e instanceof Error ? e.message : String(e);
    throw new DataDrivenError('HandlerFailed', `${d.pos}: ${d.cmd} failed: ${reason}${input}`, { cause: e });
  }
}

function mismatchMessage(d: TestData, actual: string): string {
  const header = `${d.pos}: ${d.cmd}${d.input === '' ? '' : `\n${d.input}`}`;
  if (splitLines(d.expected).length > 5) {
    return `${header}\noutput didn't match expected:\n${unifiedDiff(d.expected, actual)}`;
  }
  return `${header}\nexpected:\n${d.expected}found:\n${actual}`;
}

/**
 * Runs every case of `text` through `handler`, in order, comparing outputs with the expected text. A handler that
 * throws aborts the run with DataDrivenError('HandlerFailed').
 */
export function runText(text: string, fileName: string, handler: Handler, options: RunOptions = {}): RunResult {
  const parsed = parse(text, fileName);
  const results: CaseResult[] = [];
  for (const c of parsed.cases) {
    const actual = callHandler(handler, c.data);
    const passed = actual === c.data.expected;
    results.push({ data: c.data, actual, passed, message: passed ? '' : mismatchMessage(c.data, actual) });
    // A rewrite needs every output, so it never stops early.
    if (!passed && !options.rewrite && !options.continueAfterFailure) break;
  }
  const rewritten = options.rewrite ? assemble(parsed, results.map((r) => r.actual)) : null;
  return { results, rewritten };
}

/** Regenerates the file with `outputs(d)` as every case's output, keeping comments, directives and inputs. */
export function rewriteFile(text: string, fileName: string, outputs: (d: TestData) => string): string {
  const parsed = parse(text, fileName);
  return assemble(parsed, parsed.cases.map((c) => normalizeOutput(outputs(c.data))));
}

// ## Arguments

/** Whether an argument named `key` is present. */
export function has(args: readonly CmdArg[], key: string): boolean {
  return args.some((a) => a.key === key);
}

/** The first argument named `key`, if any. */
export function getArg(args: readonly CmdArg[], key: string): CmdArg | undefined {
  return args.find((a) => a.key === key);
}

function requireArg(args: readonly CmdArg[], key: string): CmdArg {
  const arg = getArg(args, key);
  if (arg === undefined) throw new DataDrivenError('MissingArgument', `missing argument: ${key}`);
  return arg;
}

// The single value of `key`, or undefined when the argument is absent and that is allowed.
function single(args: readonly CmdArg[], key: string, optional: boolean): string | undefined {
  if (optional && !has(args, key)) return undefined;
  const arg = requireArg(args, key);
  if (arg.vals.length !== 1) {
    throw new DataDrivenError('ArgumentCount', `${key}: got 1 destinations, but ${arg.vals.length} values`);
  }
  return arg.vals[0];
}

function parseInt10(key: string, val: string): number {
  if (!/^[+-]?\d+$/.test(val)) {
    throw new DataDrivenError('BadArgument', `${key}: ${JSON.stringify(val)} is not an integer`);
  }
  const n = Number(val);
  if (!Number.isSafeInteger(n)) throw new DataDrivenError('BadArgument', `${key}: ${val} is out of range`);
  return n;
}

// The spellings Go's strconv.ParseBool accepts.
const TRUE_WORDS = new Set(['1', 't', 'T', 'TRUE', 'true', 'True']);
const FALSE_WORDS = new Set(['0', 'f', 'F', 'FALSE', 'false', 'False']);

function parseBool(key: string, val: string): boolean {
  if (TRUE_WORDS.has(val)) return true;
  if (FALSE_WORDS.has(val)) return false;
  throw new DataDrivenError('BadArgument', `${key}: ${JSON.stringify(val)} is not a boolean`);
}

/** The one value of `key`; `fallback` when the argument is absent (an error without a fallback). */
export function getString(args: readonly CmdArg[], key: string, fallback?: string): string {
  const val = single(args, key, fallback !== undefined);
  return val ?? fallback ?? '';
}

/** The one value of `key` as a decimal integer; `fallback` when the argument is absent. */
export function getInt(args: readonly CmdArg[], key: string, fallback?: number): number {
  const val = single(args, key, fallback !== undefined);
  return val === undefined ? (fallback ?? 0) : parseInt10(key, val);
}

/** The one value of `key` as a boolean (Go's spellings: true, t, 1, false, f, 0, ...); `fallback` when absent. */
export function getBool(args: readonly CmdArg[], key: string, fallback?: boolean): boolean {
  const val = single(args, key, fallback !== undefined);
  return val === undefined ? (fallback ?? false) : parseBool(key, val);
}

/** All values of `key`. */
export function getStringList(args: readonly CmdArg[], key: string): string[] {
  return [...requireArg(args, key).vals];
}

/** All values of `key` as decimal integers. */
export function getIntList(args: readonly CmdArg[], key: string): number[] {
  return requireArg(args, key).vals.map((v) => parseInt10(key, v));
}

// ## Diffs

/**
 * A unified diff of two texts, line by line, with `context` unchanged lines around each change. Used to explain a
 * mismatching output.
 */
export function unifiedDiff(expected: string, actual: string, context = 5): string {
  const a = splitLines(expected);
  const b = splitLines(actual);
  // lcs(i, j) = length of the longest common subsequence of a[i:] and b[j:].
  const width = b.length + 1;
  const table = new Int32Array((a.length + 1) * width);
  const lcs = (i: number, j: number): number => table[i * width + j];
  for (let i = a.length - 1; i >= 0; i--) {
    for (let j = b.length - 1; j >= 0; j--) {
      table[i * width + j] = a[i] === b[j] ? lcs(i + 1, j + 1) + 1 : Math.max(lcs(i + 1, j), lcs(i, j + 1));
    }
  }
  type Op = { tag: ' ' | '-' | '+'; line: string; ai: number; bi: number };
  const ops: Op[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    if (i < a.length && j < b.length && a[i] === b[j]) {
      ops.push({ tag: ' ', line: a[i], ai: i++, bi: j++ });
    } else if (i < a.length && (j === b.length || lcs(i + 1, j) >= lcs(i, j + 1))) {
      ops.push({ tag: '-', line: a[i], ai: i++, bi: j });
    } else {
      ops.push({ tag: '+', line: b[j], ai: i, bi: j++ });
    }
  }
  const out: string[] = ['--- expected', '+++ actual'];
  let k = 0;
  while (k < ops.length) {
    if (ops[k].tag === ' ') {
      k++;
      continue;
    }
    // Grow a hunk from this change until `context` lines separate it from the next change on both sides.
    const start = Math.max(0, k - context);
    let end = k;
    let quiet = 0;
    while (end < ops.length && quiet <= 2 * context) {
      quiet = ops[end].tag === ' ' ? quiet + 1 : 0;
      end++;
    }
    end -= Math.max(0, quiet - context);
    const hunk = ops.slice(start, end);
    const first = hunk[0];
    const aLen = hunk.filter((o) => o.tag !== '+').length;
    const bLen = hunk.filter((o) => o.tag !== '-').length;
    out.push(`@@ -${first.ai + 1},${aLen} +${first.bi + 1},${bLen} @@`);
    for (const o of hunk) out.push(`${o.tag}${o.line}`);
    k = end;
  }
  return `${out.join('\n')}\n`;
}
