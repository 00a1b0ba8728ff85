import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

import {
  DataDrivenError,
  getBool,
  getInt,
  getIntList,
  getString,
  getStringList,
  has,
  parseFile,
  parseLine,
  rewriteFile,
  runText,
  unifiedDiff,
} from '../../raft/rafttest/datadriven';
import { firstFailure, runFile, walk } from '../support/datadriven_file';

const ETCD_DATA = path.join(__dirname, '..', '..', 'raft', 'testdata', 'etcd');

describe('parseLine', () => {
  test('splits a command from positional, single-valued and list arguments', () => {
    expect(parseLine('add-nodes 3 voters=(1,2,3) index=10 async=true')).toEqual({
      cmd: 'add-nodes',
      cmdArgs: [
        { key: '3', vals: [] },
        { key: 'voters', vals: ['1', '2', '3'] },
        { key: 'index', vals: ['10'] },
        { key: 'async', vals: ['true'] },
      ],
    });
  });

  test('trims after each comma but keeps spaces before it, and nests parentheses', () => {
    expect(parseLine('cmd a=(x , y) e=(f(1, 2), (g)) b=').cmdArgs).toEqual([
      { key: 'a', vals: ['x ', 'y'] },
      { key: 'e', vals: ['f(1, 2)', '(g)'] },
      { key: 'b', vals: [''] },
    ]);
  });

  test('an empty list has one empty value, and a blank line has no command', () => {
    expect(parseLine('cmd l=()').cmdArgs).toEqual([{ key: 'l', vals: [''] }]);
    expect(parseLine('   ')).toEqual({ cmd: '', cmdArgs: [] });
  });

  test('reports the column of an unterminated list', () => {
    expect(() => parseLine('cmd a=(1, 2')).toThrow('cannot parse directive at column 11: cmd a=(1, 2');
    expect(() => parseLine('cmd =5')).toThrow(DataDrivenError);
  });
});

describe('parseFile', () => {
  test('reads cases separated by blank lines and skips comments', () => {
    const text =
      '# intro\n\nfoo a=1\nline one\n\nline two\n----\nout 1\nout 2\n\n# between\nbar\n----\n\nbaz\n----\nx\n';
    const cases = parseFile(text, 'f.txt');
    expect(cases.map((c) => [c.pos, c.cmd, c.input, c.expected])).toEqual([
      ['f.txt:3', 'foo', 'line one\n\nline two', 'out 1\nout 2\n'],
      ['f.txt:12', 'bar', '', ''],
      ['f.txt:15', 'baz', '', 'x\n'],
    ]);
  });

  test('joins continued directive lines', () => {
    const [c] = parseFile('cmd a=1 \\\n   b=2\n----\nok\n', 'f');
    expect(c.cmdArgs).toEqual([
      { key: 'a', vals: ['1'] },
      { key: 'b', vals: ['2'] },
    ]);
  });

  test('reads the doubled separator form, whose output may hold blank lines and single separators', () => {
    const text = 'cmd\n----\n----\na\n\n----\nb\n----\n----\n\nnext\n----\nok\n';
    const cases = parseFile(text, 'f');
    expect(cases.map((c) => c.expected)).toEqual(['a\n\n----\nb\n', 'ok\n']);
  });

  test('rejects text right after a doubled separator block', () => {
    expect(() => parseFile('cmd\n----\n----\na\n----\n----\nx\n', 'f')).toThrow(
      'f:1: non-blank line after end of double ---- separator section',
    );
  });

  test('names the position of a malformed directive', () => {
    expect(() => parseFile('\n\ncmd x=(1\n----\n', 'g.txt')).toThrow(
      'g.txt:3: cannot parse directive at column 8: cmd x=(1',
    );
  });
});

describe('runText', () => {
  const file = 'echo a=1\n----\n1\n\necho a=2\n----\nwrong\n\necho a=3\n----\n3\n';
  const echo = (d: { cmdArgs: { key: string; vals: string[] }[] }): string => getString(d.cmdArgs, 'a');

  test('stops at the first mismatch and explains it', () => {
    const { results, rewritten } = runText(file, 'e.txt', echo);
    expect(results.map((r) => r.passed)).toEqual([true, false]);
    expect(results[1].message).toBe('e.txt:5: echo\nexpected:\nwrong\nfound:\n2\n');
    expect(rewritten).toBeNull();
  });

  test('can continue after a mismatch', () => {
    const { results } = runText(file, 'e.txt', echo, { continueAfterFailure: true });
    expect(results.map((r) => r.passed)).toEqual([true, false, true]);
  });

  test('rewrites outputs, choosing the doubled form when an output has a blank line', () => {
    const { rewritten } = runText(file, 'e.txt', (d) => (getInt(d.cmdArgs, 'a') === 2 ? 'x\n\ny' : 'same'), {
      rewrite: true,
    });
    expect(rewritten).toBe(
      'echo a=1\n----\nsame\n\necho a=2\n----\n----\nx\n\ny\n----\n----\n\necho a=3\n----\nsame\n',
    );
    // The rewritten file reads back to the outputs that produced it.
    expect(parseFile(rewritten ?? '', 'e.txt').map((c) => c.expected)).toEqual(['same\n', 'x\n\ny\n', 'same\n']);
  });

  test('an empty output is written as a bare separator', () => {
    expect(rewriteFile('a\n----\nold\n\nb\n----\nold\n', 'f', () => '')).toBe('a\n----\n\nb\n----\n');
  });

  test('wraps a handler failure with the position of the case', () => {
    expect(() =>
      runText('boom\ninput\n----\n', 'b.txt', () => {
        throw new Error('kaput');
      }),
    ).toThrow('b.txt:1: boom failed: kaput\ninput');
  });

  test('explains a long mismatch with a unified diff', () => {
    const expected = ['a', 'b', 'c', 'd', 'e', 'f'].join('\n');
    const { results } = runText(`cmd\n----\n${expected}\n`, 'd.txt', () => 'a\nb\nC\nd\ne\nf\n');
    expect(results[0].message).toContain(
      "output didn't match expected:\n--- expected\n+++ actual\n@@ -1,6 +1,6 @@\n a\n b\n-c\n+C\n",
    );
  });
});

describe('unifiedDiff', () => {
  test('splits distant changes into separate hunks with context', () => {
    const a = Array.from({ length: 30 }, (_, i) => `l${i}`);
    const b = [...a];
    b[2] = 'X';
    b[25] = 'Y';
    const diff = unifiedDiff(`${a.join('\n')}\n`, `${b.join('\n')}\n`, 2);
    expect(diff).toBe(
      '--- expected\n+++ actual\n@@ -1,5 +1,5 @@\n l0\n l1\n-l2\n+X\n l3\n l4\n' +
        '@@ -24,5 +24,5 @@\n l23\n l24\n-l25\n+Y\n l26\n l27\n',
    );
  });
});

describe('argument accessors', () => {
  const { cmdArgs } = parseLine('cmd 7 n=5 flag=t off=False ids=(1,2,3) s=(a, b) neg=-3');

  test('read single values of each type', () => {
    expect(has(cmdArgs, '7')).toBe(true);
    expect(has(cmdArgs, 'absent')).toBe(false);
    expect(getInt(cmdArgs, 'n')).toBe(5);
    expect(getInt(cmdArgs, 'neg')).toBe(-3);
    expect(getBool(cmdArgs, 'flag')).toBe(true);
    expect(getBool(cmdArgs, 'off')).toBe(false);
    expect(getString(cmdArgs, 'n')).toBe('5');
  });

  test('read lists', () => {
    expect(getIntList(cmdArgs, 'ids')).toEqual([1, 2, 3]);
    expect(getStringList(cmdArgs, 's')).toEqual(['a', 'b']);
  });

  test('fall back only when the argument is absent', () => {
    expect(getInt(cmdArgs, 'absent', 9)).toBe(9);
    expect(getBool(cmdArgs, 'absent', false)).toBe(false);
    expect(getString(cmdArgs, 'absent', '')).toBe('');
    expect(getInt(cmdArgs, 'n', 9)).toBe(5);
  });

  test('name what is wrong', () => {
    expect(() => getInt(cmdArgs, 'absent')).toThrow('missing argument: absent');
    expect(() => getInt(cmdArgs, 'ids')).toThrow('ids: got 1 destinations, but 3 values');
    expect(() => getInt(cmdArgs, 'flag')).toThrow('flag: "t" is not an integer');
    expect(() => getBool(cmdArgs, 'n')).toThrow('n: "5" is not a boolean');
    try {
      getIntList(cmdArgs, 's');
    } catch (e) {
      expect(e).toBeInstanceOf(DataDrivenError);
      expect((e as DataDrivenError).code).toBe('BadArgument');
    }
  });
});

describe("etcd's scenario files", () => {
  const files = walk(ETCD_DATA).filter((f) => f.endsWith('.txt'));

  test('are all found', () => {
    expect(files.length).toBeGreaterThanOrEqual(30);
  });

  test.each(files.map((f) => [path.relative(ETCD_DATA, f), f]))(
    '%s survives parse and rewrite with its own outputs unchanged',
    (_name, file) => {
      const text = fs.readFileSync(file, 'utf8');
      expect(parseFile(text, file).length).toBeGreaterThan(0);
      expect(rewriteFile(text, file, (d) => d.expected)).toBe(text);
    },
  );
});

describe('runFile', () => {
  test('checks a file on disk, and in rewrite mode replaces its outputs', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsraft-dd-'));
    const file = path.join(dir, 'case.txt');
    fs.writeFileSync(file, '# doubled\ndouble n=2\n----\n3\n');
    const double = (d: { cmdArgs: { key: string; vals: string[] }[] }): string => String(2 * getInt(d.cmdArgs, 'n'));
    try {
      expect(firstFailure(runFile(file, double, { rewrite: false }).results)).toBe(
        'case.txt:2: double\nexpected:\n3\nfound:\n4\n',
      );
      runFile(file, double, { rewrite: true });
      expect(fs.readFileSync(file, 'utf8')).toBe('# doubled\ndouble n=2\n----\n4\n');
      expect(firstFailure(runFile(file, double, { rewrite: false }).results)).toBeNull();
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
