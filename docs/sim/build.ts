// # Building the browser simulator
//
// The simulator page runs the real core: raft/, the simulated network and cluster of raft/rafttest/, and the
// page's own code in docs/sim/src/, bundled by esbuild into one classic script. One script and no fetches at run
// time, so the page also works opened straight from the file system (file:// forbids module imports across files
// and fetching JSON).
//
// The side log links every event to the rule that caused it, and each rule to its line of source: the file and
// line where the implementing function is defined, and the section of the annotated page (`make annotated`, docco)
// that holds that line. Both are computed here, at build time, from the sources themselves, so they never drift.

import * as fs from 'fs';
import * as path from 'path';
import { build } from 'esbuild';
import { rules } from '../../raft/rafttest/explain';

/** Where a rule's implementing function is: the file, its line, and the docco section holding that line. */
export interface RuleLocation {
  file: string;
  line: number;
  section: number;
}

// docco has no type declarations; this is the one function used.
interface Docco {
  parse(source: string, code: string, config?: object): { docsText: string; codeText: string }[];
}

/** The repository's root: the nearest directory above this file holding package.json. */
export function repoRoot(from = __dirname): string {
  let dir = from;
  while (!fs.existsSync(path.join(dir, 'package.json'))) {
    const up = path.dirname(dir);
    if (up === dir) {
      throw new Error(`No package.json above ${from}`);
    }
    dir = up;
  }
  return dir;
}

/** The line (1-based) where `symbol` is defined in `text` as a function or method; 0 if it is not found. */
export function definitionLine(text: string, symbol: string): number {
  const def = new RegExp(`^\\s*(?:export\\s+)?(?:(?:private|protected|public|static|async|function)\\s+)*${symbol}\\s*[(<]`);
  const lines = text.split('\n');
  const i = lines.findIndex((l) => def.test(l));
  return i + 1;
}

/** The docco section (1-based, as in the page's `#section-N` anchors) that holds line `line` of `file`. */
export function doccoSection(file: string, text: string, line: number): number {
  // eslint-style require of an untyped CommonJS module, narrowed to the one function used.
  const docco = require('docco') as Docco;
  const sections = docco.parse(file, text);
  let seen = 0;
  for (let i = 0; i < sections.length; i++) {
    const s = sections[i];
    seen += count(s.docsText) + count(s.codeText);
    if (line <= seen) {
      return i + 1;
    }
  }
  return sections.length;
}

function count(s: string): number {
  return s.split('\n').length - 1;
}

/** Finds every rule's implementing function; throws if one is missing, so a rename cannot break links silently. */
export function locateRules(root: string): Record<string, RuleLocation> {
  const out: Record<string, RuleLocation> = {};
  for (const [id, rule] of Object.entries(rules)) {
    const { file, symbol } = rule.source;
    const text = fs.readFileSync(path.join(root, file), 'utf8');
    const line = definitionLine(text, symbol);
    if (line === 0) {
      throw new Error(`Rule ${id}: no definition of ${symbol} in ${file}`);
    }
    out[id] = { file, line, section: doccoSection(file, text, line) };
  }
  return out;
}

/** Bundles the simulator into `outDir`: index.html and sim.js. Returns the path of index.html. */
export async function buildSimulator(outDir: string, root = repoRoot()): Promise<string> {
  const here = path.join(root, 'docs', 'sim');
  fs.mkdirSync(outDir, { recursive: true });
  await build({
    entryPoints: [path.join(here, 'src', 'main.ts')],
    bundle: true,
    format: 'iife',
    platform: 'browser',
    target: 'es2020',
    outfile: path.join(outDir, 'sim.js'),
    define: { TSRAFT_RULE_LOCATIONS: JSON.stringify(JSON.stringify(locateRules(root))) },
    logLevel: 'warning',
    legalComments: 'none',
  });
  const index = path.join(outDir, 'index.html');
  fs.copyFileSync(path.join(here, 'index.html'), index);
  return index;
}

if (require.main === module) {
  const out = path.resolve(process.argv[2] ?? 'dist/sim');
  buildSimulator(out, repoRoot(process.cwd())).then(
    (index) => console.log(`Open ${index} (it works from the file system; the annotated source is expected in ${path.join(path.dirname(out), 'annotated')})`),
    (err: unknown) => {
      console.error(`Building the simulator failed: ${err instanceof Error ? err.message : String(err)}`);
      process.exit(1);
    },
  );
}
