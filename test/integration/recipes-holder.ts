// A lock holder, contender or candidate in its own process, for test/integration/recipes.test.ts: the tests kill,
// stop and resume it like a real application. It runs from dist/ (`make build` compiles it) and uses the client
// and the recipes as an application would. It reports each step as one JSON line on standard output.
//
//   node recipes-holder.js lock     <endpoints> <prefix> <ttl>                 acquire, then hold until killed
//   node recipes-holder.js campaign <endpoints> <prefix> <ttl> <value>         campaign; SIGTERM resigns and exits
//   node recipes-holder.js contend  <endpoints> <prefix> <ttl> <fence> <data> <id> <rounds> [pauseRound]
//        acquire, write the data key twice through the fence, release; `rounds` times. In round `pauseRound`
//        the process stops itself (SIGSTOP) right after acquiring, before writing, until the test resumes it.

import { Client } from '../../kvstore/library-client';
import { Election, Leadership, LockHandle, RecipeError, acquireLock, writeFenced } from '../../kvstore/recipes';

function report(event: string, fields: Record<string, unknown> = {}): void {
  process.stdout.write(`${JSON.stringify({ event, pid: process.pid, ...fields })}\n`);
}

function describe(err: unknown): string {
  return err instanceof RecipeError || err instanceof Error ? `${err.name} ${'code' in err ? String(err.code) : ''}: ${err.message}` : String(err);
}

async function hold(client: Client, prefix: string, ttlSeconds: number): Promise<void> {
  const lock = await acquireLock(client, prefix, { ttlSeconds, owner: `pid ${process.pid}` });
  report('acquired', { token: lock.fencingToken });
  const lost = await lock.lost;
  report('lost', { reason: lost.message });
}

async function campaign(client: Client, prefix: string, ttlSeconds: number, value: string): Promise<void> {
  const election = new Election(client, prefix);
  let leadership: Leadership | undefined;
  while (leadership === undefined) {
    try {
      leadership = await election.campaign(value, { ttlSeconds });
    } catch (err) {
      // As for a contender: a lease lost while waiting (keepalives starved on a loaded machine) means stand again.
      if (!(err instanceof RecipeError && err.code === 'LeaseLost')) throw err;
      report('lost-while-waiting', { value, reason: err.message });
    }
  }
  const held = leadership;
  // The handler goes in before the report: the test may send SIGTERM as soon as it reads "elected", and a
  // descheduled process that had reported first would die of the signal's default action instead of resigning.
  process.once('SIGTERM', () => {
    held.resign().then(
      () => {
        report('resigned', { value });
        process.exit(0);
      },
      (err: unknown) => {
        report('error', { message: `resign: ${describe(err)}` });
        process.exit(1);
      },
    );
  });
  report('elected', { value, revision: held.revision });
  const lost = await held.lost;
  report('lost', { reason: lost.message });
}

async function contend(client: Client, prefix: string, ttlSeconds: number, fenceKey: string, dataKey: string, id: string, rounds: number, pauseRound: number): Promise<void> {
  for (let round = 0; round < rounds; round++) {
    const lock = await acquireRetrying(client, prefix, ttlSeconds, id);
    const token = lock.fencingToken;
    report('acquired', { id, round, token });
    if (round === pauseRound) {
      report('pausing', { id, round, token });
      process.kill(process.pid, 'SIGSTOP');
    }
    for (let write = 0; write < 2; write++) {
      const result = await writeFenced(client, fenceKey, token, [{ op: 'put', key: dataKey, value: JSON.stringify({ id, token, round, write }) }]);
      report(result.accepted ? 'accepted' : 'refused', { id, round, token, write, revision: result.revision, highestToken: result.highestToken });
    }
    await lock.release();
    report('released', { id, round, token });
  }
  report('done', { id });
}

// As an application would: a lease lost while waiting (keepalives starved on a loaded machine) means join again.
async function acquireRetrying(client: Client, prefix: string, ttlSeconds: number, id: string): Promise<LockHandle> {
  for (;;) {
    try {
      return await acquireLock(client, prefix, { ttlSeconds, owner: id });
    } catch (err) {
      if (!(err instanceof RecipeError && err.code === 'LeaseLost')) throw err;
      report('lost-while-waiting', { id, reason: err.message });
    }
  }
}

async function main(): Promise<void> {
  const [mode = '', endpoints = '', prefix = '', ttl = '', ...rest] = process.argv.slice(2);
  const client = new Client(endpoints.split(','), { timeoutMs: 10_000, session: true });
  const ttlSeconds = Number(ttl);
  if (mode === 'lock') await hold(client, prefix, ttlSeconds);
  else if (mode === 'campaign') await campaign(client, prefix, ttlSeconds, rest[0] ?? '');
  else if (mode === 'contend') await contend(client, prefix, ttlSeconds, rest[0] ?? '', rest[1] ?? '', rest[2] ?? '', Number(rest[3]), rest[4] === undefined ? -1 : Number(rest[4]));
  else throw new Error(`Unknown mode "${mode}"`);
}

main().catch((err: unknown) => {
  report('error', { message: describe(err) });
  process.exit(1);
});
