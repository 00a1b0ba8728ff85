#!/usr/bin/env node
// # The `tsraft` command
//
// `tsraft serve ...` runs a member; every other command is a client of the HTTP API (kvstore/client.ts) and
// talks to whichever of `--endpoints` answers. Output is meant for people; errors go to standard error with a
// non-zero exit status.

import { enterServingBudget, enterStartingBudget, keepYoungGenerationSmall } from './v8-tuning';
import { Command, Option } from 'commander';
import type { KvClient } from './client';
import { KvError } from './errors';
import { serveDefaults } from './defaults';
import { bindMemberPorts } from './early-listen';
import { LogLevel, configureColour, nodeLogger } from './logger';

// Before anything the member allocates can make V8 grow its young generation (kvstore/v8-tuning.ts).
keepYoungGenerationSmall();

const defaultEndpoints = 'http://127.0.0.1:2379,http://127.0.0.1:12379,http://127.0.0.1:22379';

const program = new Command();
program
  .name('tsraft')
  .description("A replicated key-value store on etcd's Raft design")
  .option('--endpoints <urls>', 'client URLs of members, comma separated', defaultEndpoints)
  .option('--timeout <ms>', 'give up on a command after this long', integer, 10_000)
  .option('--no-session', 'send writes without a session: a write whose outcome is unknown is then reported, not retried')
  .showHelpAfterError();

program
  .command('serve')
  .description('run a member')
  .option('--id <n>', 'member ID (required with --initial-cluster)', integer)
  .requiredOption('--data-dir <dir>', 'where the WAL and snapshots live')
  .option('--listen-client <url>', 'client API address', 'http://127.0.0.1:2379')
  .option('--listen-peer <url>', 'peer transport address', 'http://127.0.0.1:2380')
  .option('--advertise-client <url>', 'client URL announced to the cluster (default: --listen-client)')
  .option('--advertise-peer <url>', 'peer URL recorded in the membership (default: --listen-peer)')
  .option('--initial-cluster <list>', 'start a new cluster: 1=http://127.0.0.1:2380,2=...')
  .option('--join <url>', 'client URL(s) of a running member: ask to be added, then start')
  .option('--cluster-id <hex>', 'cluster ID (default: a hash of the initial cluster)')
  .option('--tick-ms <n>', 'milliseconds per Raft tick', integer, serveDefaults.tickMs)
  .option('--election-ticks <n>', 'ticks without a leader before an election', integer, serveDefaults.electionTicks)
  .option('--heartbeat-ticks <n>', 'ticks between leader heartbeats', integer, serveDefaults.heartbeatTicks)
  .option('--snapshot-count <n>', 'applied entries between snapshots', integer, serveDefaults.snapshotCount)
  .option('--snapshot-catchup <n>', 'entries kept behind a snapshot for slow followers', integer, serveDefaults.snapshotCatchup)
  .option('--max-key-bytes <n>', 'longest key', integer, serveDefaults.maxKeyBytes)
  .option('--max-value-bytes <n>', 'largest value', integer, serveDefaults.maxValueBytes)
  .option('--request-timeout-ms <n>', 'how long a write or read may wait', integer, serveDefaults.requestTimeoutMs)
  .option('--leader-wait-ms <n>', 'how long a write or read may wait for a leader before failing with NoLeader (default: half the election timeout or of the request timeout, the shorter)', integer)
  .addOption(new Option('--log-level <level>', 'least severe level printed').choices(['debug', 'info', 'warning', 'error']).default('info'))
  .action(async (o: Record<string, unknown>) => {
    enterStartingBudget();
    configureColour();
    // Both ports first, the member's modules and data after (kvstore/early-listen.ts): a client or a peer that
    // reaches a restarting member waits for it rather than being refused.
    const servers = await bindMemberPorts(String(o.listenClient), String(o.listenPeer));
    const { serve } = require('./serve') as typeof import('./serve');
    const id = typeof o.id === 'number' ? o.id : undefined;
    const member = await serve({
      servers,
      ...(id === undefined ? {} : { id }),
      dataDir: String(o.dataDir),
      listenClient: String(o.listenClient),
      listenPeer: String(o.listenPeer),
      ...(typeof o.advertiseClient === 'string' ? { advertiseClient: o.advertiseClient } : {}),
      ...(typeof o.advertisePeer === 'string' ? { advertisePeer: o.advertisePeer } : {}),
      ...(typeof o.initialCluster === 'string' ? { initialCluster: o.initialCluster } : {}),
      ...(typeof o.join === 'string' ? { join: o.join } : {}),
      ...(typeof o.clusterId === 'string' ? { clusterId: o.clusterId } : {}),
      tickMs: Number(o.tickMs),
      electionTicks: Number(o.electionTicks),
      heartbeatTicks: Number(o.heartbeatTicks),
      snapshotCount: Number(o.snapshotCount),
      snapshotCatchup: Number(o.snapshotCatchup),
      maxKeyBytes: Number(o.maxKeyBytes),
      maxValueBytes: Number(o.maxValueBytes),
      requestTimeoutMs: Number(o.requestTimeoutMs),
      ...(typeof o.leaderWaitMs === 'number' ? { leaderWaitMs: o.leaderWaitMs } : {}),
      loggerFor: (memberId) => nodeLogger(memberId, o.logLevel as LogLevel),
    });
    enterServingBudget();
    for (const signal of ['SIGINT', 'SIGTERM'] as const) {
      process.once(signal, () => void member.stop(`received ${signal}`));
    }
    const outcome = await member.stopped;
    process.exit(outcome.failed ? 1 : 0);
  });

program
  .command('put <key> <value>')
  .description('store a value (use - to read it from standard input); retried safely in a session')
  .option('--if-absent', 'create the key only if it does not exist (fails with KeyExists otherwise)')
  .option('--lease <id>', 'attach the key to this lease (it is deleted when the lease expires or is revoked)', integer)
  .action(async (key: string, value: string, o: { ifAbsent?: boolean; lease?: number }) => {
    const bytes = value === '-' ? await readStdin() : Buffer.from(value, 'utf8');
    const { created } = await client().put(key, bytes, { ifAbsent: o.ifAbsent === true, ...(o.lease === undefined ? {} : { lease: o.lease }) });
    console.log(created ? 'OK (created)' : 'OK');
  });

program
  .command('get <key>')
  .description('print a value')
  .option('--serializable', 'read the local copy without confirming leadership (may be stale)')
  .option('--revision <n>', 'read the value as it was at this revision', integer)
  .option('--show-revisions', 'print createRevision, modRevision, version and lease on standard error')
  .action(async (key: string, o: { serializable?: boolean; revision?: number; showRevisions?: boolean }) => {
    if (o.revision !== undefined || o.showRevisions === true) {
      const kv = await client().getWithRevisions(key, { revision: o.revision, serializable: o.serializable === true });
      if (kv === null) throw new KvError('KeyNotFound', `Key "${key}" not found${o.revision === undefined ? '' : ` at revision ${o.revision}`}`);
      if (o.showRevisions === true) process.stderr.write(`createRevision ${kv.createRevision} modRevision ${kv.modRevision} version ${kv.version} lease ${kv.lease}\n`);
      process.stdout.write(kv.value);
      if (process.stdout.isTTY) process.stdout.write('\n');
      return;
    }
    const value = await client().get(key, o.serializable === true ? 'serializable' : 'linearizable');
    if (value === null) throw new KvError('KeyNotFound', `Key "${key}" not found`);
    process.stdout.write(value);
    if (process.stdout.isTTY) process.stdout.write('\n');
  });

program
  .command('txn <json>')
  .description('apply a transaction atomically: {"compares":[...],"success":[...],"failure":[...]} (use - for standard input); prints the JSON answer')
  .action(async (text: string) => {
    const source = text === '-' ? (await readStdin()).toString('utf8') : text;
    let body: unknown;
    try {
      body = JSON.parse(source);
    } catch {
      throw new KvError('BadRequest', 'The transaction is not valid JSON');
    }
    const { parseTxn } = require('./txn') as typeof import('./txn');
    const result = await client().txn(parseTxn(body));
    console.log(JSON.stringify(result));
    if (!result.succeeded) process.exitCode = 2;
  });

program
  .command('cas <key> <value>')
  .description('compare-and-swap: write only if the key is unchanged since --mod-revision (0: only if absent); exit code 2 when it was not')
  .requiredOption('--mod-revision <n>', "the key's modRevision the write depends on", integer)
  .action(async (key: string, value: string, o: { modRevision: number }) => {
    const r = await client().cas(key, value, o.modRevision);
    if (r.swapped) {
      console.log(`OK revision ${r.revision}`);
      return;
    }
    const now = r.current === null ? 'it does not exist' : `its modRevision is ${r.current.modRevision}`;
    process.stderr.write(`Not swapped: ${now}\n`);
    process.exitCode = 2;
  });

program
  .command('compact <revision>')
  .description('forget the history below a revision (reads and watches before it answer Compacted)')
  .action(async (revision: string) => {
    const r = await client().compact(integer(revision));
    console.log(`compacted to revision ${r.compactRevision}`);
  });

program
  .command('watch <key>')
  .description('print every change of a key (or of a prefix) as one JSON line per revision, until interrupted')
  .option('--prefix', 'watch every key starting with <key>')
  .option('--start-revision <n>', 'start at this revision (default: the next change)', integer)
  .action(async (key: string, o: { prefix?: boolean; startRevision?: number }) => {
    const kv = newClient(program.opts<{ endpoints: string }>().endpoints.split(','));
    for await (const batch of kv.watch(key, { prefix: o.prefix === true, startRevision: o.startRevision })) {
      console.log(JSON.stringify(batch));
    }
  });

program
  .command('del <key>')
  .description('delete a key')
  .action(async (key: string) => {
    if (!(await client().del(key))) throw new KvError('KeyNotFound', `Key "${key}" not found`);
    console.log('OK');
  });

program
  .command('list [prefix]')
  .description('list keys and values under a prefix')
  .option('--limit <n>', 'at most this many', integer)
  .option('--serializable', 'read the local copy without confirming leadership (may be stale)')
  .action(async (prefix: string | undefined, o: { limit?: number; serializable?: boolean }) => {
    const kvs = await client().list(prefix ?? '', o.limit, o.serializable === true ? 'serializable' : 'linearizable');
    for (const kv of kvs) console.log(`${kv.key}\t${kv.value}`);
  });

program
  .command('members')
  .description('list the members')
  .action(async () => {
    const list = await client().members();
    console.log(`cluster ${list.clusterId}`);
    for (const m of list.members) {
      const tags = [m.id === list.leader ? 'leader' : '', m.learner ? 'learner' : ''].filter((t) => t !== '').join(', ');
      console.log(`${m.id}\tpeer ${m.peerURL}\tclient ${m.clientURL === '' ? '?' : m.clientURL}${tags === '' ? '' : `\t(${tags})`}`);
    }
  });

const member = program.command('member').description('change the membership');
member
  .command('add <peerURL>')
  .description('add a member by peer URL (then start it with `serve --join`)')
  .option('--learner', 'add as a non-voting learner')
  .option('--id <n>', 'member ID (default: chosen by the cluster)', integer)
  .action(async (peerURL: string, o: { learner?: boolean; id?: number }) => {
    const reply = await client().addMember(peerURL, { ...(o.learner === true ? { learner: true } : {}), ...(o.id === undefined ? {} : { id: o.id }) });
    console.log(`added member ${String(Reflect.get(reply as object, 'id'))}`);
  });
member
  .command('remove <id>')
  .description('remove a member (it stops itself)')
  .action(async (id: string) => {
    await client().removeMember(integer(id));
    console.log(`removed member ${id}`);
  });
member
  .command('promote <id>')
  .description('make a learner a voter')
  .action(async (id: string) => {
    await client().promoteMember(integer(id));
    console.log(`promoted member ${id}`);
  });

const lease = program.command('lease').description('leases: keys that go away when their holder stops renewing (docs/leases.md)');
lease
  .command('grant <ttl>')
  .description('grant a lease of <ttl> seconds (raised to the cluster minimum); prints its ID and TTL')
  .option('--id <n>', 'the lease ID to use (default: chosen by the cluster)', integer)
  .action(async (ttl: string, o: { id?: number }) => {
    const granted = await client().grantLease(integer(ttl), o.id === undefined ? {} : { id: o.id });
    console.log(`lease ${granted.id} granted with TTL ${granted.ttl}s`);
  });
lease
  .command('keepalive <id>')
  .description('keep a lease alive, printing each renewal, until interrupted (Ctrl-C) or the lease is lost')
  .action(async (id: string) => {
    const kv = client();
    const leaseId = integer(id);
    for (;;) {
      const sentAt = performance.now();
      const { ttl } = await kv.keepAliveOnce(leaseId);
      console.log(`lease ${leaseId} keepalive: TTL ${ttl}s`);
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, (ttl * 1000) / 3 - (performance.now() - sentAt))));
    }
  });
lease
  .command('revoke <id>')
  .description('revoke a lease: its keys are deleted in one revision')
  .action(async (id: string) => {
    const { revision } = await client().revokeLease(integer(id));
    console.log(`lease ${id} revoked at revision ${revision}`);
  });
lease
  .command('ttl <id>')
  .description("show a lease's granted TTL, seconds left (the leader's view) and attached keys")
  .option('--json', 'print the raw JSON')
  .action(async (id: string, o: { json?: boolean }) => {
    const t = await client().leaseTimeToLive(integer(id));
    if (o.json === true) {
      console.log(JSON.stringify(t));
      return;
    }
    console.log(`lease ${t.id} granted TTL ${t.grantedTtl}s, remaining ${t.ttl}s, ${t.keys.length} key${t.keys.length === 1 ? '' : 's'}`);
    for (const key of t.keys) console.log(`  ${key}`);
  });
lease
  .command('list')
  .description('list every lease with its seconds left')
  .action(async () => {
    for (const l of await client().leases()) console.log(`${l.id}	remaining ${l.ttl}s	granted ${l.grantedTtl}s`);
  });

program
  .command('status')
  .description('show every endpoint: role, term, leader, commit and applied indexes')
  .option('--json', 'print the raw JSON')
  .action(async (o: { json?: boolean }) => {
    const all = await client().statusAll();
    if (o.json === true) {
      console.log(JSON.stringify(all, null, 2));
      return;
    }
    let ok = 0;
    for (const s of all) {
      if (s.status === undefined) {
        console.log(`${s.endpoint}\tunreachable: ${s.error ?? ''}`);
        continue;
      }
      ok++;
      const st = s.status;
      console.log(
        `${s.endpoint}\tid ${String(st.id)}\t${String(st.role)}\tterm ${String(st.term)}\tleader ${String(st.leader)}\tcommit ${String(st.commit)}\tapplied ${String(st.applied)}\tsnapshot ${String(st.snapshotIndex)}`,
      );
    }
    if (ok === 0) throw new KvError('Unavailable', 'No endpoint answered');
  });

program
  .command('health')
  .description('exit 0 once some endpoint serves requests (has a leader)')
  .option('--wait <ms>', 'keep asking for this long', integer, 0)
  .action(async (o: { wait: number }) => {
    const endpoints = program.opts<{ endpoints: string }>().endpoints.split(',');
    const deadline = Date.now() + o.wait;
    for (;;) {
      for (const endpoint of endpoints) {
        try {
          const res = await fetch(`${endpoint.replace(/\/+$/, '')}/health`, { signal: AbortSignal.timeout(1000) });
          if (res.ok) {
            console.log(`${endpoint} is healthy`);
            return;
          }
        } catch {
          // Not up yet; try the next endpoint.
        }
      }
      if (Date.now() >= deadline) throw new KvError('Unavailable', `No endpoint became healthy within ${o.wait} ms`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  });

program
  .command('transfer-leader [id]')
  .description('hand leadership to a member (default: the most up-to-date voter)')
  .action(async (id: string | undefined) => {
    const { leader } = await client().transferLeader(id === undefined ? undefined : integer(id));
    console.log(`leader is now member ${leader}`);
  });

// Writes go in a session of this invocation, so a write whose outcome is unknown is retried without risk.
// The client and the transaction parser are loaded when a command needs them: `serve`, which a restarting member
// runs, never does, and every module it does not load is time before it can serve.
function newClient(...args: ConstructorParameters<typeof KvClient>): KvClient {
  const { KvClient: Client } = require('./client') as typeof import('./client');
  return new Client(...args);
}

function client(): KvClient {
  const o = program.opts<{ endpoints: string; timeout: number; session: boolean }>();
  return newClient(o.endpoints.split(','), { timeoutMs: o.timeout, session: o.session });
}

function integer(text: string): number {
  if (!/^[0-9]+$/.test(text)) throw new KvError('BadRequest', `Expected a non-negative integer, not "${text}"`);
  return Number(text);
}

async function readStdin(): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk)));
  return Buffer.concat(chunks);
}

program.parseAsync(process.argv).catch((err: unknown) => {
  const message = err instanceof KvError ? `${err.message} (${err.code})` : err instanceof Error ? err.message : String(err);
  process.stderr.write(`Error: ${message}\n`);
  process.exit(1);
});
