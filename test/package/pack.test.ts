// The package as another project sees it: `npm pack`, install the tarball into an empty project, type-check the
// README's library examples against the installed declarations with this project's TypeScript, and run them.
//
// The tarball is packed from the compiled dist/ (`make test` builds it first, as the integration tests need), with
// scripts off so packing does not compile everything again. The install is offline: its dependencies are the ones
// this checkout installed from package-lock.json, so they are in this machine's npm cache (see installOffline). A
// machine whose cache lacks them gets a failure from npm naming the missing package; `npm ci` here fills the cache.
import { execFile } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { freePort, repoRoot } from '../integration/harness';

const run = promisify(execFile);

/** The ```ts blocks of README.md's "tsraft as a library" section, in order. */
function readmeLibraryExamples(): string[] {
  const readme = fs.readFileSync(path.join(repoRoot, 'README.md'), 'utf8');
  const start = readme.indexOf('## tsraft as a library');
  if (start < 0) throw new Error('README.md has no "tsraft as a library" section');
  const next = readme.indexOf('\n## ', start + 1);
  const section = readme.slice(start, next < 0 ? undefined : next);
  return [...section.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1] ?? '');
}

// `npm install --offline <tarball>` must resolve the tarball's dependency ranges, which needs each package's registry
// document; installing from package-lock.json (`npm ci`) never fetched those, so the cache holds the tarballs only.
// So the consumer gets a lockfile: the tarball, then this project's own production entries (the versions and
// integrity hashes package-lock.json pins), each resolved at the configured registry; `npm ci --offline` then takes
// every tarball from the cache by its hash.
async function installOffline(app: string, tarball: string): Promise<void> {
  const registry = (await run('npm', ['config', 'get', 'registry'], { cwd: app })).stdout.trim().replace(/\/*$/, '/');
  const ownLock = JSON.parse(fs.readFileSync(path.join(repoRoot, 'package-lock.json'), 'utf8')) as { packages: Record<string, Record<string, unknown>> };
  const manifest = JSON.parse(fs.readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as Record<string, unknown>;
  const spec = `file:${path.relative(app, tarball)}`;
  const packages: Record<string, Record<string, unknown>> = {
    '': { name: 'tsraft-consumer', version: '0.0.0', dependencies: { tsraft: spec } },
    'node_modules/tsraft': {
      version: manifest.version,
      resolved: spec,
      integrity: `sha512-${crypto.createHash('sha512').update(fs.readFileSync(tarball)).digest('base64')}`,
      dependencies: manifest.dependencies,
      bin: manifest.bin,
      engines: manifest.engines,
    },
  };
  for (const [where, entry] of Object.entries(ownLock.packages)) {
    if (where === '' || entry.dev === true || entry.devOptional === true || !where.startsWith('node_modules/')) continue;
    const name = where.slice(where.lastIndexOf('node_modules/') + 'node_modules/'.length);
    const resolved = `${registry}${name}/-/${name.split('/').pop() ?? name}-${String(entry.version)}.tgz`;
    packages[where] = { ...entry, resolved };
  }
  fs.writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'tsraft-consumer', version: '0.0.0', private: true, dependencies: { tsraft: spec } }));
  fs.writeFileSync(path.join(app, 'package-lock.json'), JSON.stringify({ name: 'tsraft-consumer', version: '0.0.0', lockfileVersion: 3, requires: true, packages }));
  await run('npm', ['ci', '--offline', '--no-audit', '--no-fund'], { cwd: app, timeout: 50_000 }).catch((err: { stderr?: string }) => {
    throw new Error(`installing the tarball offline failed (\`npm ci\` in this checkout fills the npm cache):\n${err.stderr ?? String(err)}`);
  });
}

describe('the packed package', () => {
  let work = '';
  beforeAll(() => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'tsraft-pack-'));
  });
  afterAll(() => {
    fs.rmSync(work, { recursive: true, force: true });
  });

  it('installs into an empty project where the README library examples type-check and run', async () => {
    for (const built of ['dist/raft/index.d.ts', 'dist/kvstore/library-client.js', 'dist/kvstore/embedded.js']) {
      if (!fs.existsSync(path.join(repoRoot, built))) throw new Error(`${built} is missing: run \`make build\` first`);
    }
    const packed = await run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', work], { cwd: repoRoot });
    const [info] = JSON.parse(packed.stdout) as { filename: string; files: { path: string }[] }[];
    if (info === undefined) throw new Error(`npm pack printed no package: ${packed.stdout}`);
    const files = info.files.map((f) => f.path);
    expect(files).toEqual(expect.arrayContaining(['package.json', 'dist/raft/index.d.ts', 'dist/kvstore/cli.js', 'dist/kvstore/recipes/index.d.ts', 'kvstore/dashboard/static/index.html']));
    expect(files.filter((f) => /(^|\/)test\/|\.test\.|^docs\/|^bench\/|\.png$|\.ts$(?<!\.d\.ts)/.test(f))).toEqual([]);

    const app = path.join(work, 'app');
    fs.mkdirSync(app);
    await installOffline(app, path.join(work, info.filename));

    const [core, member, recipes] = readmeLibraryExamples();
    if (core === undefined || member === undefined || recipes === undefined) throw new Error('README.md lost one of its three library examples');
    const [clientPort, peerPort] = [await freePort(), await freePort()];
    fs.writeFileSync(path.join(app, 'core.ts'), core);
    fs.writeFileSync(path.join(app, 'member.ts'), member.replaceAll(':2379', `:${clientPort}`).replaceAll(':2380', `:${peerPort}`));
    const [recipesClientPort, recipesPeerPort] = [await freePort(), await freePort()];
    fs.writeFileSync(path.join(app, 'recipes.ts'), recipes.replaceAll(':2379', `:${recipesClientPort}`).replaceAll(':2380', `:${recipesPeerPort}`));
    fs.writeFileSync(
      path.join(app, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'ES2022', module: 'node16', moduleResolution: 'node16', strict: true, outDir: 'out',
          // This project's Node types: the consumer has none installed, and the package's declarations use them.
          typeRoots: [path.join(repoRoot, 'node_modules', '@types')], types: ['node'],
          // As most projects: the package's declarations are the compiler's own output; checking the examples' use
          // of them is the point, and checking all of @types/node again would double the time.
          skipLibCheck: true,
        },
        files: ['core.ts', 'member.ts', 'recipes.ts'],
      }),
    );
    const tsc = path.join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc');
    await run(process.execPath, [tsc, '-p', app], { cwd: app }).catch((err: { stdout?: string }) => {
      throw new Error(`the README examples do not type-check against the installed package:\n${err.stdout ?? String(err)}`);
    });

    const coreRun = await run(process.execPath, [path.join(app, 'out', 'core.js')], { cwd: app, timeout: 10_000 });
    expect(coreRun.stdout).toBe('committed: x=1\n');
    const memberRun = await run(process.execPath, [path.join(app, 'out', 'member.js')], { cwd: app, timeout: 30_000 });
    expect(memberRun.stdout).toBe('hello\nhello\n');
    const recipesRun = await run(process.execPath, [path.join(app, 'out', 'recipes.js')], { cwd: app, timeout: 30_000 });
    expect(recipesRun.stdout).toBe('holding locks/report/1\nlimit 100\nlimit 200\n');
  }, 180_000);
});
