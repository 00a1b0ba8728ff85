// The young generation of a member's V8 stays at its first size under an allocation pattern that makes V8 grow it
// (a steady share of what is allocated survives), and a size given to Node itself wins. Each case runs
// in a fresh Node process, since the setting is process-wide.

import { spawnSync } from 'node:child_process';
import path from 'node:path';

const tuning = path.join(__dirname, '..', '..', 'dist', 'kvstore', 'v8-tuning.js');

// Allocates 3 million small objects, keeping every third for a while, as a member keeps log entries; prints the
// young generation's size afterwards.
function youngGenerationAfterLoad(nodeArgs: string[], callTuning: boolean, nodeOptions = ''): number {
  const script = `
    const v8 = require('node:v8');
    if (${String(callTuning)}) require(${JSON.stringify(tuning)}).keepYoungGenerationSmall();
    let keep = [];
    for (let i = 0; i < 3e6; i++) { const o = { i, s: 'x' + i }; if (i % 3 === 0) keep.push(o); if (keep.length > 200000) keep = []; }
    process.stdout.write(String(v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space').space_size));
  `;
  const r = spawnSync(process.execPath, [...nodeArgs, '-e', script], { encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: nodeOptions } });
  if (r.status !== 0) throw new Error(r.stderr);
  return Number(r.stdout);
}

const MiB = 1024 * 1024;

describe('keepYoungGenerationSmall', () => {
  test('V8 left alone grows the young generation well past its first size', () => {
    expect(youngGenerationAfterLoad([], false)).toBeGreaterThan(8 * MiB);
  });

  test('a member keeps it at its first size', () => {
    expect(youngGenerationAfterLoad([], true)).toBeLessThanOrEqual(2 * MiB);
  });

  test('a size given on the command line, or in NODE_OPTIONS, is left as it is', () => {
    expect(youngGenerationAfterLoad(['--semi-space-growth-factor=2'], true)).toBeGreaterThan(8 * MiB);
    expect(youngGenerationAfterLoad([], true, '--max-semi-space-size=16')).toBeGreaterThan(8 * MiB);
  });
});
