// Replays etcd's confchange scenario files through the confchange harness (raft/rafttest/confchange_handler.ts).

import * as fs from 'fs';
import * as path from 'path';

import { confChangeHandler } from '../../raft/rafttest/confchange_handler';
import { parseFile } from '../../raft/rafttest/datadriven';
import { firstFailure, runFile, walk } from '../support/datadriven_file';

const DIR = path.join(__dirname, '..', '..', 'raft', 'testdata', 'etcd', 'confchange');

describe('confchange scenario files', () => {
  const files = walk(DIR);

  test('are present', () => {
    expect(files.length).toBe(9);
  });

  test.each(files.map((f) => [path.basename(f), f]))('%s replays byte for byte', (_name, file) => {
    const { results } = runFile(file, confChangeHandler());
    expect(firstFailure(results)).toBeNull();
    expect(results.length).toBe(parseFile(fs.readFileSync(file, 'utf8'), file).length);
  });
});
