// # A file system that can lose power
//
// `FaultFs` is a `DurableFs` for tests, in the spirit of LazyFS and ALICE. Every call really happens on the disk
// below (so reads see what was written, as through a page cache), and the call is also recorded against a model of
// what a power loss could leave:
//
// - per file, the writes, truncations and allocations made since its last fsync or fdatasync, each with the bytes
//   it overwrote, so it can be undone;
// - per directory, the entries created, removed and renamed since the directory's last fsync.
//
// `crash()` then rewrites the tree under `root` as a machine would find it after losing power: for every file, the
// synced content plus a seeded choice among its unsynced changes (none, all, an ordered prefix whose last write may
// be torn at a 512-byte sector, or an arbitrary subset, as page writeback reorders them); for every directory, its
// synced entries plus a seeded prefix of the later entry changes (a journal commits metadata in order). A file whose
// creation or rename was not made durable by a directory fsync may be absent or under its old name; a removed file
// whose removal was not synced may come back. After the crash every descriptor the instance opened is closed (the
// process's flocks go with them) and every later call throws `FaultFsCrashed`: the code that was running is dead.
//
// Injected errors: `failWith` may refuse any operation before it happens (ENOSPC, EIO), to test the error paths.
//
// Limits, stated: the model covers the calls made through it under `root` (others pass through untouched); the
// directory `root` itself always survives; a rename across directories is modelled as an independent removal and
// creation; file metadata other than size (mode, times) is not modelled.

import * as fs from 'fs';
import * as path from 'path';
import { SeededRand } from '../raft/rand';
import { DurableFs, OpenFlags, PathKind, nodeFs } from './durablefs';

/** The kinds of operation the model counts; each counted call is one crash point. */
export type FaultOpKind =
  | 'create'
  | 'truncate'
  | 'write'
  | 'allocate'
  | 'fsync'
  | 'fdatasync'
  | 'dirsync'
  | 'rename'
  | 'unlink'
  | 'mkdir'
  | 'rmdir';

/** One counted operation, as `failWith` and `trace` see it. */
export interface FaultOp {
  /** 1-based position among the counted operations of this instance. */
  n: number;
  kind: FaultOpKind;
  file: string;
}

export interface FaultFsOptions {
  /** The tree whose durability is modelled. Created if missing; what it holds already counts as synced. */
  root: string;
  /** Seeds every choice `crash()` makes. */
  seed: number;
  /**
   * What a crash keeps of the unsynced changes: a seeded choice (the default), none of them (the harshest power
   * loss) or all of them (a process crash, as kill -9: the page cache survives).
   */
  keep?: 'seeded' | 'none' | 'all';
  /** Crash just before the n-th counted operation runs (1-based); 0 or absent: only when `crash()` is called. */
  crashBeforeOp?: number;
  /** Called before each counted operation; an error returned is thrown instead of performing it. */
  failWith?: (op: FaultOp) => NodeJS.ErrnoException | null;
}

/** What a crash kept and dropped, for test reports. */
export interface CrashReport {
  /** Counted operations performed before the crash. */
  ops: number;
  unsyncedFileChanges: number;
  keptFileChanges: number;
  unsyncedDirChanges: number;
  keptDirChanges: number;
}

/** Thrown by every call after a crash: the process that made it has lost power. */
export class FaultFsCrashed extends Error {
  override name = 'FaultFsCrashed';
  readonly code = 'ECRASHED';
}

type FileChange =
  | { t: 'write'; pos: number; data: Buffer; oldSize: number; before: Buffer }
  | { t: 'truncate'; len: number; oldSize: number; before: Buffer }
  | { t: 'extend'; len: number; oldSize: number };

type DirChange =
  | { t: 'link'; name: string; node: Node }
  | { t: 'unlink'; name: string }
  | { t: 'rename'; from: string; to: string; node: Node };

interface FileNode {
  kind: 'file';
  /** Changes since the last fsync, oldest first. */
  pending: FileChange[];
  /** Changes ever made; the pending ones are the last `pending.length` of them. */
  made: number;
  /** A read descriptor kept open once the file left the live tree: a crash may bring it back. */
  grave: number | null;
}

interface DirNode {
  kind: 'dir';
  /** Entries as the last fsync of this directory left them. */
  durable: Map<string, Node>;
  /** Entries as they are now. */
  live: Map<string, Node>;
  pending: DirChange[];
}

type Node = FileNode | DirNode;

/** A directory tree as a crash leaves it: file contents and subdirectories by name. */
type Image = Map<string, Buffer | Image>;

const SECTOR = 512;

/** A `DurableFs` that records what is unsynced and can simulate a power loss. See the module comment. */
export class FaultFs implements DurableFs {
  readonly root: string;
  private readonly rootNode: DirNode;
  private readonly rand: SeededRand;
  private readonly descriptors = new Map<number, Node | null>();
  /** The path each descriptor was opened with, for `FaultOp.file`. */
  private readonly openedAs = new Map<number, string>();
  private ops = 0;
  private crashed: CrashReport | null = null;
  /** Every counted operation so far, when `recordTrace` was set. */
  readonly trace: FaultOp[] = [];
  recordTrace = false;

  constructor(private readonly options: FaultFsOptions) {
    this.root = path.resolve(options.root);
    fs.mkdirSync(this.root, { recursive: true });
    this.rootNode = adopt(this.root);
    this.rand = new SeededRand(options.seed >>> 0);
  }

  /** Counted operations performed so far. */
  get opCount(): number {
    return this.ops;
  }

  /** The report of the crash, once one happened. */
  get crashReport(): CrashReport | null {
    return this.crashed;
  }

  // ## Reads: straight to the disk.

  readdirSync(dir: string): string[] {
    this.alive();
    return nodeFs.readdirSync(dir);
  }

  readFileSync(file: string): Buffer {
    this.alive();
    return nodeFs.readFileSync(file);
  }

  readSync(fd: number, buf: Uint8Array, offset: number, length: number, position: number): number {
    this.alive();
    return nodeFs.readSync(fd, buf, offset, length, position);
  }

  kindOf(file: string): PathKind {
    this.alive();
    return nodeFs.kindOf(file);
  }

  fileSize(fd: number): number {
    this.alive();
    return nodeFs.fileSize(fd);
  }

  flockSync(fd: number, flags: 'exnb' | 'un'): void {
    this.alive();
    nodeFs.flockSync(fd, flags);
  }

  closeSync(fd: number): void {
    this.alive();
    this.descriptors.delete(fd);
    this.openedAs.delete(fd);
    nodeFs.closeSync(fd);
  }

  // ## Writes: performed, and recorded against the model.

  openSync(file: string, flags: OpenFlags, mode?: number): number {
    this.alive();
    if (path.resolve(file) === this.root) return this.remember(nodeFs.openSync(file, flags, mode), this.rootNode, file);
    const where = this.locate(file);
    if (where === null) return this.remember(nodeFs.openSync(file, flags, mode), null, file);
    const existing = where.parent.live.get(where.name);
    const { create, truncate } = openEffects(flags);
    if (existing === undefined) {
      if (!create) return nodeFs.openSync(file, flags, mode); // ENOENT, as the disk says
      this.before('create', file);
      const fd = nodeFs.openSync(file, flags, mode);
      const node: FileNode = { kind: 'file', pending: [], made: 0, grave: null };
      where.parent.live.set(where.name, node);
      where.parent.pending.push({ t: 'link', name: where.name, node });
      return this.remember(fd, node, file);
    }
    if (truncate && existing.kind === 'file') {
      this.before('truncate', file);
      const oldSize = sizeOfPath(file);
      const before = readAt(file, 0, oldSize);
      const fd = nodeFs.openSync(file, flags, mode);
      record(existing, { t: 'truncate', len: 0, oldSize, before });
      return this.remember(fd, existing, file);
    }
    return this.remember(nodeFs.openSync(file, flags, mode), existing, file);
  }

  writeSync(fd: number, buf: Uint8Array, offset: number, length: number, position: number): number {
    const node = this.fileOf(fd);
    if (node === null) return nodeFs.writeSync(fd, buf, offset, length, position);
    this.before('write', this.nameOf(fd));
    const oldSize = nodeFs.fileSize(fd);
    const before = readFd(fd, position, Math.max(0, Math.min(length, oldSize - position)));
    const n = nodeFs.writeSync(fd, buf, offset, length, position);
    const data = Buffer.from(buf.subarray(offset, offset + n));
    record(node, { t: 'write', pos: position, data, oldSize, before: before.subarray(0, Math.min(n, before.length)) });
    return n;
  }

  ftruncateSync(fd: number, length: number): void {
    const node = this.fileOf(fd);
    if (node === null) return nodeFs.ftruncateSync(fd, length);
    this.before('truncate', this.nameOf(fd));
    const oldSize = nodeFs.fileSize(fd);
    const before = length < oldSize ? readFd(fd, length, oldSize - length) : Buffer.alloc(0);
    nodeFs.ftruncateSync(fd, length);
    record(node, { t: 'truncate', len: length, oldSize, before });
  }

  allocateSync(fd: number, length: number): void {
    const node = this.fileOf(fd);
    if (node === null) return nodeFs.allocateSync(fd, length);
    this.before('allocate', this.nameOf(fd));
    const oldSize = nodeFs.fileSize(fd);
    if (length <= oldSize) return;
    nodeFs.allocateSync(fd, length);
    record(node, { t: 'extend', len: length, oldSize });
  }

  fsyncSync(fd: number): void {
    this.syncNode(fd, 'fsync');
  }

  fdatasyncSync(fd: number): void {
    this.syncNode(fd, 'fdatasync');
  }

  fdatasync(fd: number, callback: (err: NodeJS.ErrnoException | null) => void): void {
    let covered: number;
    const node = this.descriptors.get(fd);
    try {
      this.before('fdatasync', this.nameOf(fd));
      covered = node !== undefined && node !== null && node.kind === 'file' ? node.made : 0;
    } catch (err) {
      setImmediate(() => callback(err as NodeJS.ErrnoException));
      return;
    }
    // Durable is what was written before the call; whatever is written while it runs is not covered.
    setImmediate(() => {
      if (this.crashed !== null) return callback(new FaultFsCrashed('The machine lost power during an fdatasync'));
      // A blocking sync meanwhile may have covered some or all of them already.
      if (node !== undefined && node !== null && node.kind === 'file') {
        node.pending.splice(0, Math.max(0, covered - (node.made - node.pending.length)));
      }
      callback(null);
    });
  }

  renameSync(from: string, to: string): void {
    this.alive();
    const src = this.locate(from);
    const dst = this.locate(to);
    if (src === null || dst === null) return nodeFs.renameSync(from, to);
    const node = src.parent.live.get(src.name);
    if (node === undefined) return nodeFs.renameSync(from, to); // ENOENT, as the disk says
    this.before('rename', `${from} -> ${to}`);
    const replaced = dst.parent.live.get(dst.name);
    if (replaced !== undefined && replaced !== node) this.bury(replaced, to);
    nodeFs.renameSync(from, to);
    src.parent.live.delete(src.name);
    dst.parent.live.set(dst.name, node);
    if (src.parent === dst.parent) {
      src.parent.pending.push({ t: 'rename', from: src.name, to: dst.name, node });
    } else {
      src.parent.pending.push({ t: 'unlink', name: src.name });
      dst.parent.pending.push({ t: 'link', name: dst.name, node });
    }
  }

  unlinkSync(file: string): void {
    this.alive();
    const where = this.locate(file);
    const node = where?.parent.live.get(where.name);
    if (where === null || node === undefined) return nodeFs.unlinkSync(file);
    this.before('unlink', file);
    this.bury(node, file);
    nodeFs.unlinkSync(file);
    where.parent.live.delete(where.name);
    where.parent.pending.push({ t: 'unlink', name: where.name });
  }

  mkdirSync(dir: string): void {
    this.alive();
    const where = this.locate(dir);
    if (where === null || where.parent.live.has(where.name)) return nodeFs.mkdirSync(dir);
    this.before('mkdir', dir);
    nodeFs.mkdirSync(dir);
    const node: DirNode = { kind: 'dir', durable: new Map(), live: new Map(), pending: [] };
    where.parent.live.set(where.name, node);
    where.parent.pending.push({ t: 'link', name: where.name, node });
  }

  rmdirSync(dir: string): void {
    this.alive();
    const where = this.locate(dir);
    if (where === null || !where.parent.live.has(where.name)) return nodeFs.rmdirSync(dir);
    this.before('rmdir', dir);
    nodeFs.rmdirSync(dir);
    where.parent.live.delete(where.name);
    where.parent.pending.push({ t: 'unlink', name: where.name });
  }

  // ## The crash.

  /**
   * Loses power now: rewrites the tree under `root` as the disk would hold it (see the module comment), closes
   * every descriptor this instance opened and refuses every later call. Returns what was kept.
   */
  crash(): CrashReport {
    if (this.crashed !== null) return this.crashed;
    const report: CrashReport = { ops: this.ops, unsyncedFileChanges: 0, keptFileChanges: 0, unsyncedDirChanges: 0, keptDirChanges: 0 };
    // Read every surviving file's current bytes before anything on the disk changes.
    const live = livePaths(this.root, this.rootNode);
    const image = this.imageOf(this.rootNode, report, live, new Set());
    for (const fd of this.descriptors.keys()) closeQuietly(fd);
    this.descriptors.clear();
    this.openedAs.clear();
    forEachNode(this.rootNode, (n) => {
      if (n.kind === 'file' && n.grave !== null) closeQuietly(n.grave);
    });
    for (const name of fs.readdirSync(this.root)) fs.rmSync(path.join(this.root, name), { recursive: true, force: true });
    writeImage(this.root, image);
    this.crashed = report;
    return report;
  }

  private imageOf(dir: DirNode, report: CrashReport, live: Map<Node, string>, seen: Set<Node>): Image {
    seen.add(dir);
    const entries = new Map(dir.durable);
    const kept = this.chooseDirPrefix(dir.pending.length);
    report.unsyncedDirChanges += dir.pending.length;
    report.keptDirChanges += kept;
    for (const c of dir.pending.slice(0, kept)) {
      if (c.t === 'link') entries.set(c.name, c.node);
      else if (c.t === 'unlink') entries.delete(c.name);
      else if (entries.get(c.from) === c.node) {
        entries.delete(c.from);
        entries.set(c.to, c.node);
      }
    }
    const out: Image = new Map();
    for (const [name, node] of entries) {
      if (seen.has(node)) continue; // a directory cannot be in two places; keep the first
      if (node.kind === 'dir') out.set(name, this.imageOf(node, report, live, seen));
      else {
        seen.add(node);
        out.set(name, this.fileImage(node, report, live));
      }
    }
    return out;
  }

  private fileImage(node: FileNode, report: CrashReport, live: Map<Node, string>): Buffer {
    const where = live.get(node);
    let initial: Buffer;
    if (where !== undefined) initial = fs.readFileSync(where);
    else if (node.grave !== null) initial = readWhole(node.grave);
    else initial = Buffer.alloc(0);
    const content = new Content(initial);
    for (let i = node.pending.length - 1; i >= 0; i--) undo(content, node.pending[i]);
    report.unsyncedFileChanges += node.pending.length;
    for (const [change, torn] of this.chooseFileChanges(node.pending)) {
      redo(content, change, torn);
      report.keptFileChanges++;
    }
    return content.bytes();
  }

  // None, all, or a random prefix of a directory's changes: metadata reaches a journal in order.
  private chooseDirPrefix(n: number): number {
    if (n === 0 || this.options.keep === 'none') return 0;
    if (this.options.keep === 'all') return n;
    const r = this.rand.float();
    if (r < 0.3) return 0;
    if (r < 0.6) return n;
    return this.rand.intn(n + 1);
  }

  // The changes of one file that reach the disk, each with the number of its bytes that do when it is torn.
  private chooseFileChanges(pending: readonly FileChange[]): [FileChange, number | null][] {
    const n = pending.length;
    if (n === 0 || this.options.keep === 'none') return [];
    if (this.options.keep === 'all') return pending.map((c) => [c, null]);
    const r = this.rand.float();
    if (r < 0.2) return [];
    if (r < 0.4) return pending.map((c) => [c, null]);
    const out: [FileChange, number | null][] = [];
    if (r < 0.75) {
      // Written back in order, interrupted at some point, possibly inside a write.
      const k = this.rand.intn(n + 1);
      for (let i = 0; i < k; i++) out.push([pending[i], null]);
      if (k < n && pending[k].t === 'write') out.push([pending[k], this.tornLength(pending[k])]);
      return out;
    }
    // Written back in any order: each change independently, writes possibly torn.
    for (const c of pending) {
      const x = this.rand.float();
      if (x < 0.5) continue;
      out.push([c, c.t === 'write' && x < 0.65 ? this.tornLength(c) : null]);
    }
    return out;
  }

  // How many bytes of a write survive when it is torn: up to a sector boundary of the file, never all of them.
  private tornLength(c: FileChange): number {
    if (c.t !== 'write') return 0;
    const firstBoundary = Math.ceil((c.pos + 1) / SECTOR) * SECTOR;
    const boundaries: number[] = [0];
    for (let b = firstBoundary; b < c.pos + c.data.length; b += SECTOR) boundaries.push(b - c.pos);
    return boundaries[this.rand.intn(boundaries.length)];
  }

  // ## Bookkeeping.

  private alive(): void {
    if (this.crashed !== null) throw new FaultFsCrashed(`The machine lost power after ${this.crashed.ops} operations`);
  }

  // Every counted operation: maybe refused, maybe the crash point.
  private before(kind: FaultOpKind, file: string): void {
    this.alive();
    const op: FaultOp = { n: ++this.ops, kind, file };
    if (this.recordTrace) this.trace.push(op);
    const err = this.options.failWith?.(op) ?? null;
    if (err !== null) throw err;
    if (this.options.crashBeforeOp === op.n) {
      this.crash();
      throw new FaultFsCrashed(`The machine lost power before operation ${op.n} (${kind} ${file})`);
    }
  }

  private syncNode(fd: number, kind: 'fsync' | 'fdatasync'): void {
    const node = this.descriptors.get(fd);
    if (node === undefined || node === null) return kind === 'fsync' ? nodeFs.fsyncSync(fd) : nodeFs.fdatasyncSync(fd);
    this.before(node.kind === 'dir' ? 'dirsync' : kind, this.nameOf(fd));
    if (node.kind === 'file') {
      node.pending = [];
      return;
    }
    const gone = [...node.durable.values()].filter((n) => ![...node.live.values()].includes(n));
    node.durable = new Map(node.live);
    node.pending = [];
    for (const n of gone) if (n.kind === 'file' && n.grave !== null && !stillNamed(this.rootNode, n)) {
      closeQuietly(n.grave);
      n.grave = null;
    }
  }

  private remember(fd: number, node: Node | null, file: string): number {
    this.descriptors.set(fd, node);
    this.openedAs.set(fd, file);
    return fd;
  }

  private nameOf(fd: number): string {
    return this.openedAs.get(fd) ?? `descriptor ${fd}`;
  }

  private fileOf(fd: number): FileNode | null {
    this.alive();
    const node = this.descriptors.get(fd);
    return node !== undefined && node !== null && node.kind === 'file' ? node : null;
  }

  // Keeps a removed file's bytes reachable: a crash before its removal is synced brings it back.
  private bury(node: Node, file: string): void {
    if (node.kind === 'file' && node.grave === null) node.grave = fs.openSync(file, 'r');
  }

  // The model's parent directory and entry name of `file`, or null for a path outside `root`.
  private locate(file: string): { parent: DirNode; name: string } | null {
    const abs = path.resolve(file);
    const rel = path.relative(this.root, abs);
    if (rel === '' || rel.startsWith('..') || path.isAbsolute(rel)) return null;
    const parts = rel.split(path.sep);
    let dir = this.rootNode;
    for (const part of parts.slice(0, -1)) {
      const next = dir.live.get(part);
      if (next === undefined || next.kind !== 'dir') return null;
      dir = next;
    }
    return { parent: dir, name: parts[parts.length - 1] };
  }
}

/** Parses TSRAFT_FAULTFS (`root=<dir>,seed=<n>`) into options; throws naming the variable when it is malformed. */
export function faultFsOptionsFromEnv(value: string): FaultFsOptions {
  const fields = new Map<string, string>();
  for (const part of value.split(',')) {
    const eq = part.indexOf('=');
    if (eq <= 0) throw new Error(`TSRAFT_FAULTFS: expected key=value pairs, got "${part}"`);
    fields.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim());
  }
  const root = fields.get('root');
  const seed = Number(fields.get('seed') ?? '1');
  if (root === undefined || root === '') throw new Error('TSRAFT_FAULTFS: root=<data directory> is required');
  if (!Number.isSafeInteger(seed)) throw new Error(`TSRAFT_FAULTFS: seed must be an integer, got "${fields.get('seed')}"`);
  return { root, seed };
}

function openEffects(flags: OpenFlags): { create: boolean; truncate: boolean } {
  if (typeof flags === 'number') {
    return { create: (flags & fs.constants.O_CREAT) !== 0, truncate: (flags & fs.constants.O_TRUNC) !== 0 };
  }
  const writes = flags === 'w' || flags === 'w+' || flags === 'wx';
  return { create: writes, truncate: writes };
}

// Everything under `dir` as it is now, counted as synced.
function adopt(dir: string): DirNode {
  const node: DirNode = { kind: 'dir', durable: new Map(), live: new Map(), pending: [] };
  for (const ent of fs.readdirSync(dir, { withFileTypes: true })) {
    const child: Node = ent.isDirectory() ? adopt(path.join(dir, ent.name)) : { kind: 'file', pending: [], made: 0, grave: null };
    node.durable.set(ent.name, child);
    node.live.set(ent.name, child);
  }
  return node;
}

function livePaths(root: string, rootNode: DirNode): Map<Node, string> {
  const out = new Map<Node, string>();
  const walk = (dir: DirNode, at: string): void => {
    for (const [name, n] of dir.live) {
      const p = path.join(at, name);
      out.set(n, p);
      if (n.kind === 'dir') walk(n, p);
    }
  };
  walk(rootNode, root);
  return out;
}

function forEachNode(root: DirNode, fn: (n: Node) => void): void {
  const seen = new Set<Node>();
  const walk = (n: Node): void => {
    if (seen.has(n)) return;
    seen.add(n);
    fn(n);
    if (n.kind !== 'dir') return;
    for (const c of n.live.values()) walk(c);
    for (const c of n.durable.values()) walk(c);
    for (const c of n.pending) if (c.t !== 'unlink') walk(c.node);
  };
  walk(root);
}

// A buried file is still needed while a directory's synced entries or unsynced changes name it.
function stillNamed(root: DirNode, target: Node): boolean {
  let named = false;
  forEachNode(root, (n) => {
    if (n.kind !== 'dir') return;
    for (const c of n.durable.values()) if (c === target) named = true;
    for (const c of n.live.values()) if (c === target) named = true;
    for (const c of n.pending) if (c.t !== 'unlink' && c.node === target) named = true;
  });
  return named;
}

function writeImage(dir: string, image: Image): void {
  for (const [name, content] of image) {
    const p = path.join(dir, name);
    if (Buffer.isBuffer(content)) fs.writeFileSync(p, content);
    else {
      fs.mkdirSync(p);
      writeImage(p, content);
    }
  }
}

/**
 * A file's bytes while a crash rolls them back and forward: one buffer changed in place (grown by doubling) and a
 * length, so thousands of unsynced writes to a large segment cost their own bytes, not a copy of the file each.
 */
class Content {
  private buf: Buffer;
  private len: number;

  constructor(initial: Buffer) {
    this.buf = initial;
    this.len = initial.length;
  }

  /** Sets the length; bytes that come into the file by growing it read as zeros. */
  resize(len: number): void {
    if (len > this.buf.length) {
      const next = Buffer.alloc(Math.max(len, this.buf.length * 2));
      this.buf.copy(next, 0, 0, this.len);
      this.buf = next;
    } else if (len > this.len) {
      this.buf.fill(0, this.len, len);
    }
    this.len = len;
  }

  put(data: Buffer, at: number): void {
    if (at + data.length > this.len) this.resize(at + data.length);
    data.copy(this.buf, at);
  }

  bytes(): Buffer {
    return this.buf.subarray(0, this.len);
  }
}

function undo(content: Content, c: FileChange): void {
  if (c.t === 'write') {
    content.put(c.before, c.pos);
    content.resize(c.oldSize);
  } else if (c.t === 'truncate' && c.len < c.oldSize) {
    content.resize(c.oldSize);
    content.put(c.before, c.len);
  } else {
    content.resize(c.oldSize);
  }
}

function redo(content: Content, c: FileChange, torn: number | null): void {
  if (c.t === 'write') content.put(torn === null ? c.data : c.data.subarray(0, torn), c.pos);
  else if (c.t === 'truncate') content.resize(c.len);
  else content.resize(Math.max(content.bytes().length, c.len));
}

function readAt(file: string, pos: number, len: number): Buffer {
  if (len <= 0) return Buffer.alloc(0);
  const fd = fs.openSync(file, 'r');
  try {
    return readFd(fd, pos, len);
  } finally {
    fs.closeSync(fd);
  }
}

function readFd(fd: number, pos: number, len: number): Buffer {
  const out = Buffer.alloc(Math.max(0, len));
  let done = 0;
  while (done < out.length) {
    const n = fs.readSync(fd, out, done, out.length - done, pos + done);
    if (n === 0) break;
    done += n;
  }
  return out.subarray(0, done);
}

function readWhole(fd: number): Buffer {
  return readFd(fd, 0, fs.fstatSync(fd).size);
}

function sizeOfPath(file: string): number {
  return fs.statSync(file).size;
}

function closeQuietly(fd: number): void {
  try {
    fs.closeSync(fd);
  } catch {
    // Already closed by its owner.
  }
}

function record(node: FileNode, change: FileChange): void {
  node.pending.push(change);
  node.made++;
}
