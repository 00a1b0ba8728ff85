// A real headless Chromium for the tests of tsraft's web pages: playwright-core drives Debian's `chromium`
// package. Playwright's own browser download cannot run on these machines, so the browser comes from the system:
// `TSRAFT_CHROMIUM` names one explicitly, otherwise `/usr/bin/chromium`, installed with apt-get when it is missing
// and the tests run as root. Only when no browser can be had does `launchBrowser` answer null, and the caller
// skips its checks after the message printed here says why.

import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type Browser } from 'playwright-core';

/** Where Debian's package puts the browser. */
export const debianChromium = '/usr/bin/chromium';

// Flags for a browser in a container on a shared machine: no sandbox (we run as root), no GPU, and none of the
// background traffic (updates, sync, QUIC probes) that a test has no use for. Playwright adds --headless and a
// fresh temporary --user-data-dir of its own, removed again by `browser.close()`.
const chromiumArgs = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

// An install that failed leaves this marker, so the other test files of the same run (jest runs them in several
// workers) skip at once instead of each waiting minutes for apt-get to fail again.
const failedInstallMarker = path.join(os.tmpdir(), 'tsraft-chromium-install-failed');
const failedInstallMemoryMs = 60 * 60 * 1000;
const aptTimeoutMs = 10 * 60 * 1000;

function run(file: string, args: string[]): Promise<{ ok: boolean; output: string }> {
  return new Promise((resolve) => {
    execFile(
      file,
      args,
      { timeout: aptTimeoutMs, maxBuffer: 16 * 1024 * 1024, env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } },
      (err, stdout, stderr) => resolve({ ok: err === null, output: `${stdout}${stderr}`.trim() }),
    );
  });
}

function recentlyFailed(): boolean {
  try {
    return Date.now() - fs.statSync(failedInstallMarker).mtimeMs < failedInstallMemoryMs;
  } catch {
    return false;
  }
}

// apt waits for the dpkg lock (another worker may be installing the same package), and when the package lists are
// missing or stale on a fresh machine, one `apt-get update` and a second attempt follow.
async function aptInstallChromium(): Promise<string | null> {
  const install = ['-o', 'DPkg::Lock::Timeout=600', 'install', '-y', '--no-install-recommends', 'chromium'];
  let attempt = await run('apt-get', install);
  if (!attempt.ok) {
    await run('apt-get', ['-o', 'DPkg::Lock::Timeout=600', 'update']);
    attempt = await run('apt-get', install);
  }
  if (attempt.ok && fs.existsSync(debianChromium)) return null;
  const lastLines = attempt.output.split('\n').slice(-3).join(' / ');
  return `apt-get install chromium failed: ${lastLines || 'no output'}`;
}

let chromiumPath: Promise<{ path: string } | { reason: string }> | null = null;

/** The browser's executable, installing Debian's package at most once per process; or why there is none. */
function findChromium(): Promise<{ path: string } | { reason: string }> {
  chromiumPath ??= (async () => {
    const explicit = process.env.TSRAFT_CHROMIUM;
    if (explicit !== undefined && explicit !== '') {
      return fs.existsSync(explicit) ? { path: explicit } : { reason: `TSRAFT_CHROMIUM names ${explicit}, which does not exist` };
    }
    if (fs.existsSync(debianChromium)) return { path: debianChromium };
    if (typeof process.getuid !== 'function' || process.getuid() !== 0) {
      return { reason: `${debianChromium} is missing and only root can install it (apt-get install chromium)` };
    }
    if (recentlyFailed()) return { reason: `installing chromium failed within the last hour (see ${failedInstallMarker})` };
    const failure = await aptInstallChromium();
    if (failure === null) return { path: debianChromium };
    fs.writeFileSync(failedInstallMarker, `${failure}\n`);
    return { reason: failure };
  })();
  return chromiumPath;
}

const skipsReported = new Set<string>();

/**
 * A fresh headless Chromium, or null (after printing why) when no browser can be had here. The caller closes it.
 * A browser that exists but fails to start is an error, not a skip: that is a broken machine or a broken flag.
 */
export async function launchBrowser(): Promise<Browser | null> {
  const found = await findChromium();
  if ('reason' in found) {
    if (!skipsReported.has(found.reason)) {
      skipsReported.add(found.reason);
      console.warn(`Skipping browser checks: no Chromium available (${found.reason}).`);
    }
    return null;
  }
  return chromium.launch({ executablePath: found.path, headless: true, args: chromiumArgs, timeout: 60_000 });
}
