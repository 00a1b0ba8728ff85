// The test clusters' port chooser: below the kernel's ephemeral range, never the same port twice in a process, and
// each Jest worker in its own slice, so two workers' clusters cannot take each other's ports.

import { freePort } from '../../bench/harness';

describe('freePort', () => {
  test('hands out distinct ports from this worker\'s slice', async () => {
    const worker = Number(process.env.JEST_WORKER_ID);
    const low = 20_000 + ((worker - 1) % 8) * 1_500;
    const ports = [];
    for (let i = 0; i < 60; i++) ports.push(await freePort());
    expect(new Set(ports).size).toBe(ports.length);
    for (const port of ports) {
      expect(port).toBeGreaterThanOrEqual(low);
      expect(port).toBeLessThan(low + 1_500);
    }
  });

  test('keeps choosing after more ports than its slice holds, never repeating a recent one', async () => {
    const ports = [];
    for (let i = 0; i < 1_600; i++) ports.push(await freePort());
    expect(new Set(ports.slice(-700)).size).toBe(700);
  });
});
