// Replays etcd's Raft scenario files through tsraft: one test per case, each comparing tsraft's output with the
// output etcd recorded, byte for byte. Cases of a file run in order against one environment, as they depend on
// each other; a mismatch does not stop the file, so every case gets its own verdict.

import * as fs from 'fs';
import * as path from 'path';

import { parseFile } from '../../raft/rafttest/datadriven';
import { runScenario, scenarioFiles } from '../../raft/rafttest/conformance';
import { CaseResult } from '../../raft/rafttest/datadriven';

const ROOT = path.join(__dirname, '..', '..', 'raft', 'testdata');

function defineFileTests(root: string, file: string): void {
  const text = fs.readFileSync(file, 'utf8');
  const cases = parseFile(text, path.basename(file));
  describe(path.relative(root, file), () => {
    let results: CaseResult[] = [];
    beforeAll(() => {
      results = runScenario(text, file).results;
    });
    test('has cases', () => {
      expect(cases.length).toBeGreaterThan(0);
      expect(results).toHaveLength(cases.length);
    });
    cases.forEach((c, i) => {
      test(`${c.pos} ${c.cmd}`, () => {
        const r = results[i];
        expect(r === undefined ? 'no result' : r.message).toBe('');
      });
    });
  });
}

for (const corpus of ['etcd', 'etcd-random', 'tsraft']) {
  const dir = path.join(ROOT, corpus);
  if (!fs.existsSync(dir)) {
    continue;
  }
  describe(corpus, () => {
    for (const file of scenarioFiles(dir)) {
      defineFileTests(dir, file);
    }
  });
}
