// Locating the compiled crash child (test/wal/crash-child.ts) for the tests that run it as a real process.
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

const ROOT = path.resolve(__dirname, '../..');

function newestSource(): number {
  const wal = fs.readdirSync(path.join(ROOT, 'wal')).map((f) => `wal/${f}`);
  const files = ['test/wal/crash-child.ts', 'test/wal/helpers.ts', ...wal];
  return Math.max(...files.map((f) => fs.statSync(path.join(ROOT, f)).mtimeMs));
}

// `make test` builds dist/ before jest runs; when that build is missing or older than the sources, compile the
// child and what it imports into a scratch directory instead.
export function childScript(scratch: string): string {
  const built = path.join(ROOT, 'dist/test/wal/crash-child.js');
  if (fs.existsSync(built) && fs.statSync(built).mtimeMs >= newestSource()) return built;
  const out = path.join(scratch, 'build');
  const tsc = path.join(ROOT, 'node_modules/typescript/bin/tsc');
  const args = [tsc, 'test/wal/crash-child.ts', 'wal/fs-ext.d.ts', '--outDir', out, '--rootDir', '.', '--module',
    'node16', '--moduleResolution', 'node16', '--target', 'ES2022', '--types', 'node', '--skipLibCheck',
    '--esModuleInterop'];
  try {
    execFileSync(process.execPath, args, { cwd: ROOT, stdio: 'pipe' });
  } catch (err) {
    // tsc exits non-zero on type errors in files being edited elsewhere, yet still emits; only no output is fatal.
    if (!fs.existsSync(path.join(out, 'test/wal/crash-child.js'))) throw err;
  }
  // node resolves the child's packages from its location; point it back at the project's node_modules.
  fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(out, 'node_modules'));
  return path.join(out, 'test/wal/crash-child.js');
}

