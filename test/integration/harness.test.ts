// The test clusters' own guarantees: a member that cannot start is reported at once, with its log, instead of after
// the health wait's full timeout.

import net from 'node:net';
import { TestCluster } from './harness';

test('waiting for a member that exited fails at once and quotes its log', async () => {
  const c = new TestCluster();
  const m = await c.allocate(1);
  // Someone else holds the member's peer port, so it refuses to start.
  const squatter = net.createServer();
  await new Promise<void>((resolve) => squatter.listen(m.peerPort, '127.0.0.1', resolve));
  try {
    c.spawn(1, ['--initial-cluster', c.initialCluster()]);
    const started = Date.now();
    await expect(c.waitHealthy([1])).rejects.toThrow(/Member 1 exited before it became healthy; its log ends:[\s\S]*EADDRINUSE/);
    expect(Date.now() - started).toBeLessThan(10_000);
  } finally {
    squatter.close();
    await c.destroy();
  }
}, 30_000);
