// # Planted bugs
//
// To show the suite catches real mistakes, it runs clusters built from a copy of the compiled tree with one exact
// textual change. The product code carries no switch for any of these: each mutation names a file under dist/, the
// text to find (which must occur exactly once, or the mutant refuses to build: the code moved and the mutation
// must be updated) and its replacement.

import fs from 'node:fs';
import path from 'node:path';

/** One planted bug. */
export interface Mutation {
  /** What the bug does, for the summary. */
  description: string;
  /** Path under the compiled tree. */
  file: string;
  find: string;
  replace: string;
  /** Nemesis families likely to expose it. */
  families: string[];
}

export const mutations: Record<string, Mutation> = {
  'local-reads': {
    description: 'linearizable reads served from the local map without ReadIndex',
    file: 'kvstore/node.js',
    find: 'const confirmed = this.requests.readBarrier();',
    replace: 'const confirmed = Promise.resolve();',
    families: ['partition-leader', 'partition-minority', 'kill-leader'],
  },
  'ack-before-fsync': {
    description: 'the Ready loop defers its fsyncs by a second: answers and acknowledgements leave while the data is only in the page cache',
    file: 'kvstore/loop.js',
    find: 'await this.parts.persistence.sync();',
    replace: 'setTimeout(() => void this.parts.persistence.sync().catch(() => undefined), 1000);',
    families: ['power-loss'],
  },
  'leader-ignores-higher-term': {
    description: 'a leader ignores messages carrying a higher term (rule A2 not applied to leaders)',
    file: 'raft/raft.js',
    find: 'else if (m.term > this.term) {',
    replace: 'else if (m.term > this.term && this.state !== types_1.StateType.StateLeader) {',
    families: ['partition-leader', 'one-way', 'pause'],
  },
  'commit-old-term': {
    description: "a leader commits an entry of an earlier term by counting its replicas (Figure 8's bug)",
    file: 'raft/log.js',
    find: 'if (at.term !== 0 && at.index > this.committed && this.matchTerm(at)) {',
    replace: 'if (at.term !== 0 && at.index > this.committed) {',
    families: ['kill-leader', 'partition-minority', 'restart-all'],
  },
};

/**
 * Copies the compiled tree `distDir` (of the repository at `repoRoot`) to `into` and applies mutation `name`;
 * returns the copy's path. The copy finds its packages and static files through links to the repository's node_modules and kvstore/.
 */
export function buildMutant(name: string, repoRoot: string, distDir: string, into: string): string {
  const mutation = mutations[name];
  if (mutation === undefined) throw new Error(`Unknown mutation "${name}"; known: ${Object.keys(mutations).join(', ')}`);
  const target = path.join(into, 'dist');
  fs.mkdirSync(into, { recursive: true });
  fs.symlinkSync(path.join(repoRoot, 'node_modules'), path.join(into, 'node_modules'));
  // Static files (the dashboard's page) are read from the source tree beside dist/.
  fs.symlinkSync(path.join(repoRoot, 'kvstore'), path.join(into, 'kvstore'));
  for (const part of ['raft', 'wal', 'snap', 'transport', 'kvstore']) {
    fs.cpSync(path.join(distDir, part), path.join(target, part), { recursive: true });
  }
  const file = path.join(target, mutation.file);
  const text = fs.readFileSync(file, 'utf8');
  const count = text.split(mutation.find).length - 1;
  if (count !== 1) throw new Error(`Mutation ${name}: expected the text exactly once in ${mutation.file}, found it ${count} times`);
  fs.writeFileSync(file, text.replace(mutation.find, mutation.replace));
  return target;
}
