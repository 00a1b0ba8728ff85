// Replays etcd's quorum scenario files through the quorum harness (raft/rafttest/quorum_handler.ts).

import * as fs from 'fs';
import * as path from 'path';

import { parseFile } from '../../raft/rafttest/datadriven';
import { handleQuorum } from '../../raft/rafttest/quorum_handler';
import { firstFailure, runFile, walk } from '../support/datadriven_file';

const DIR = path.join(__dirname, '..', '..', 'raft', 'testdata', 'etcd', 'quorum');

describe('quorum scenario files', () => {
  const files = walk(DIR);

  test('are present', () => {
    expect(files.map((f) => path.basename(f))).toEqual([
      'joint_commit.txt',
      'joint_vote.txt',
      'majority_commit.txt',
      'majority_vote.txt',
    ]);
  });

  test.each(files.map((f) => [path.basename(f), f]))('%s replays byte for byte', (_name, file) => {
    const { results } = runFile(file, handleQuorum);
    expect(firstFailure(results)).toBeNull();
    expect(results.length).toBe(parseFile(fs.readFileSync(file, 'utf8'), file).length);
  });
});
