// FaultFs keeps what was synced and drops, at a crash, what was not: file data without an fsync, and entries of a
// directory (creations, renames, removals) without an fsync of that directory.
import * as fs from 'fs';
import * as path from 'path';
import { FaultFs, FaultFsCrashed, FaultFsOptions } from '../../wal/faultfs';
import { fsyncDir, writeAll, writeFileAtomic } from '../../wal/fileutil';
import { DirLock } from '../../wal/lock';
import { scratchDir } from '../wal/helpers';

let root: string;
beforeEach(() => {
  root = scratchDir('faultfs');
});
afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

function faults(options: Partial<FaultFsOptions> = {}): FaultFs {
  return new FaultFs({ root, seed: 1, keep: 'none', ...options });
}

function writeFile(f: FaultFs, name: string, text: string, sync: boolean): void {
  const fd = f.openSync(path.join(root, name), 'w');
  writeAll(f, fd, Buffer.from(text), 0);
  if (sync) f.fsyncSync(fd);
  f.closeSync(fd);
}

const read = (name: string): string | null => {
  const p = path.join(root, name);
  return fs.existsSync(p) ? fs.readFileSync(p, 'utf8') : null;
};

test('a file created and synced, in a directory that was not synced, is gone after a power loss', () => {
  const f = faults();
  writeFile(f, 'a', 'hello', true);
  f.crash();
  expect(read('a')).toBeNull();
});

test('a synced file in a synced directory survives; writes after its fsync do not', () => {
  const f = faults();
  writeFile(f, 'a', 'hello', true);
  fsyncDir(f, root);
  const fd = f.openSync(path.join(root, 'a'), 'r+');
  writeAll(f, fd, Buffer.from('HELLO, world'), 0);
  f.crash();
  expect(read('a')).toBe('hello');
});

test('an unsynced rename is undone: the replaced file comes back with its old content', () => {
  fs.writeFileSync(path.join(root, 'members.json'), 'old');
  const f = faults();
  writeFile(f, 'members.json.tmp', 'new', true);
  f.renameSync(path.join(root, 'members.json.tmp'), path.join(root, 'members.json'));
  expect(read('members.json')).toBe('new');
  f.crash();
  expect(read('members.json')).toBe('old');
  // The temporary's creation was not synced either.
  expect(read('members.json.tmp')).toBeNull();
});

test('writeFileAtomic leaves the old file or the new one whole at every crash point', () => {
  fs.writeFileSync(path.join(root, 'f'), 'old');
  const outcomes = new Set<string>();
  for (let at = 1; at <= 8; at++) {
    for (const keep of ['none', 'all', 'seeded'] as const) {
      fs.rmSync(root, { recursive: true, force: true });
      fs.mkdirSync(root);
      fs.writeFileSync(path.join(root, 'f'), 'old');
      const f = faults({ crashBeforeOp: at, keep, seed: at });
      try {
        writeFileAtomic(f, path.join(root, 'f'), Buffer.from('new content'));
        f.crash();
      } catch (err) {
        expect(err).toBeInstanceOf(FaultFsCrashed);
      }
      const got = read('f');
      expect(['old', 'new content']).toContain(got);
      outcomes.add(got ?? '');
    }
  }
  expect(outcomes).toEqual(new Set(['old', 'new content']));
});

test('an unsynced removal is undone; a synced one is not', () => {
  fs.writeFileSync(path.join(root, 'a'), 'kept');
  fs.writeFileSync(path.join(root, 'b'), 'gone');
  const f = faults();
  f.unlinkSync(path.join(root, 'b'));
  fsyncDir(f, root);
  f.unlinkSync(path.join(root, 'a'));
  f.crash();
  expect(read('a')).toBe('kept');
  expect(read('b')).toBeNull();
});

test("keep 'all' is a process crash: everything written survives, synced or not", () => {
  const f = faults({ keep: 'all' });
  f.mkdirSync(path.join(root, 'd'));
  writeFile(f, 'd/x', 'unsynced', false);
  f.crash();
  expect(read('d/x')).toBe('unsynced');
});

test('unsynced appends survive as a synced prefix plus some of the rest, never invented bytes', () => {
  const synced = Buffer.alloc(1000, 1);
  const appended = Buffer.alloc(3000, 2);
  const seen = new Set<number>();
  for (let seed = 1; seed <= 40; seed++) {
    fs.rmSync(root, { recursive: true, force: true });
    fs.mkdirSync(root);
    fs.writeFileSync(path.join(root, 'log'), Buffer.alloc(0));
    const f = faults({ keep: 'seeded', seed });
    const fd = f.openSync(path.join(root, 'log'), 'r+');
    writeAll(f, fd, synced, 0);
    f.fdatasyncSync(fd);
    for (let i = 0; i < 3; i++) writeAll(f, fd, appended.subarray(i * 1000, (i + 1) * 1000), 1000 + i * 1000);
    f.crash();
    const got = fs.readFileSync(path.join(root, 'log'));
    expect(got.subarray(0, 1000).equals(synced)).toBe(true);
    expect(got.subarray(1000).every((b) => b === 0 || b === 2)).toBe(true);
    seen.add(got.length);
  }
  // The seeded choices cover losing everything unsynced, keeping all of it, and tearing in between.
  expect(seen.has(1000)).toBe(true);
  expect(seen.has(4000)).toBe(true);
  expect([...seen].some((n) => n > 1000 && n < 4000)).toBe(true);
});

test('crashBeforeOp stops the operation, every later call throws, and descriptors (and flocks) are released', () => {
  fs.mkdirSync(path.join(root, 'wal'));
  const f = faults({ crashBeforeOp: 3 });
  // Creating LOCK is operation 1, truncating it 2, writing the pid 3.
  expect(() => DirLock.acquire(path.join(root, 'wal'), f)).toThrow(FaultFsCrashed);
  expect(f.crashReport?.ops).toBe(3);
  expect(() => f.readdirSync(root)).toThrow(FaultFsCrashed);
  // The kernel dropped the dead process's flock with its descriptors: the directory can be locked again.
  const again = DirLock.acquire(path.join(root, 'wal'));
  again.release();
});

test('an injected error is thrown instead of the operation, which does not happen', () => {
  const enospc = Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
  const f = faults({ failWith: (op) => (op.kind === 'write' ? enospc : null) });
  const fd = f.openSync(path.join(root, 'a'), 'w');
  expect(() => writeAll(f, fd, Buffer.from('x'), 0)).toThrow('ENOSPC');
  f.closeSync(fd);
  expect(read('a')).toBe('');
});

test('an fdatasync in the thread pool covers the writes made before it, not those made while it runs', async () => {
  const f = faults();
  writeFile(f, 'a', 'synced', true);
  fsyncDir(f, root);
  const fd = f.openSync(path.join(root, 'a'), 'r+');
  writeAll(f, fd, Buffer.from('SYNCED'), 0);
  const done = new Promise<void>((resolve, reject) => f.fdatasync(fd, (err) => (err === null ? resolve() : reject(err))));
  writeAll(f, fd, Buffer.from('-and-later'), 6);
  f.fdatasyncSync(fd); // covers both; the pool's sync then settles with nothing left to cover
  writeAll(f, fd, Buffer.from('!'), 16);
  await done;
  f.crash();
  expect(read('a')).toBe('SYNCED-and-later');
});
