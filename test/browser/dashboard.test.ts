// The live dashboard in a real headless Chromium against real member processes: it draws every member, a put made
// from the page is readable with the command line, and after `kill -9` of the leader it shows the new leader within
// 3 s, with the dead member marked down rather than an error page. The screenshot in docs/ comes from this test.

import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { TestCluster, cliPath, repoRoot, waitFor } from '../integration/harness';
import { launchBrowser } from '../support/browser';

const screenshotPath = path.join(repoRoot, 'docs', 'images', 'dashboard.png');

function cliGet(endpoints: string, key: string): Promise<{ code: number; stdout: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [cliPath, '--endpoints', endpoints, '--timeout', '3000', 'get', key], { env: { ...process.env, NO_COLOR: '1' } }, (err, stdout) => {
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : 1, stdout });
    });
  });
}

async function shownLeader(page: Page): Promise<number> {
  return Number(await page.getAttribute('#leader', 'data-leader'));
}

// The page's answer to the last action, once it has one (it shows "…" while waiting).
async function actionOutcome(page: Page): Promise<string> {
  await page.waitForFunction("!document.getElementById('action-result').textContent.endsWith('…')", undefined, { timeout: 10_000 });
  return (await page.textContent('#action-result')) ?? '';
}

describe('the cluster dashboard', () => {
  let browser: Browser | null = null;
  let cluster: TestCluster;
  let page: Page;
  // The member whose page the browser shows; never the one killed.
  let viewer = 0;

  beforeAll(async () => {
    browser = await launchBrowser();
    if (browser === null) return;
    cluster = await TestCluster.start(3);
    const leader = await cluster.leader();
    viewer = cluster.running().find((id) => id !== leader) ?? 0;
    page = await browser.newPage({ viewport: { width: 1100, height: 720 } });
    await page.goto(`${cluster.url(viewer)}/dashboard`);
    await page.waitForFunction("document.querySelectorAll('.member[data-state=up]').length === 3", undefined, { timeout: 10_000 });
  });

  afterAll(async () => {
    await browser?.close();
    await cluster?.destroy();
  });

  test('shows every member with its role, and the leader the members report', async () => {
    if (browser === null) return;
    const leader = await cluster.leader();
    await page.waitForSelector(`#leader[data-leader="${leader}"]`, { timeout: 5000 });
    expect(await page.getAttribute(`.member[data-id="${leader}"]`, 'data-role')).toBe('leader');
    const followers = await page.$$eval('.member[data-role=follower]', (cards) => cards.map((c) => Number(c.getAttribute('data-id'))));
    expect(followers.sort()).toEqual([1, 2, 3].filter((id) => id !== leader));
    // The leader's card lists each follower's progress.
    const peers = await page.$$eval(`.member[data-id="${leader}"] tr[data-peer]`, (rows) => rows.map((r) => Number(r.getAttribute('data-peer'))));
    expect(peers.sort()).toEqual([1, 2, 3]);
  });

  test('a put from the page is readable with the command line', async () => {
    if (browser === null) return;
    await page.fill('#put-key', 'greeting');
    await page.fill('#put-value', 'hello from the dashboard');
    await page.click('#put-form button[type=submit]');
    expect(await actionOutcome(page)).toBe('Put greeting: done');
    const endpoints = cluster.running().map((id) => cluster.url(id)).join(',');
    expect(await cliGet(endpoints, 'greeting')).toEqual({ code: 0, stdout: 'hello from the dashboard' });
    // The entry shows in the log tails once the members have it, and the rates have two readings to go on.
    await page.waitForFunction(`[...document.querySelectorAll('ol.log')].every((l) => l.textContent.includes('put greeting'))
      && !document.getElementById('members').textContent.includes('…')`, undefined, { timeout: 5000 });
    fs.mkdirSync(path.dirname(screenshotPath), { recursive: true });
    await page.screenshot({ path: screenshotPath, fullPage: true });
    expect(fs.statSync(screenshotPath).size).toBeLessThan(400 * 1024);
  });

  test('transfers leadership from the page', async () => {
    if (browser === null) return;
    const old = await cluster.leader();
    await page.waitForSelector(`#leader[data-leader="${old}"]`, { timeout: 5000 });
    const target = [1, 2, 3].find((id) => id !== old && id !== viewer) ?? viewer;
    await page.selectOption('#transfer-to', String(target));
    await page.click('#transfer-form button[type=submit]');
    expect(await actionOutcome(page)).toBe(`Transfer leadership to member ${target}: done`);
    await page.waitForSelector(`#leader[data-leader="${target}"]`, { timeout: 5000 });
    expect(await cluster.leader()).toBe(target);
  });

  test('adds a learner that never starts, shows it as down, and removes it', async () => {
    if (browser === null) return;
    page.once('dialog', (dialog) => void dialog.accept());
    await page.fill('#add-peer', 'http://127.0.0.1:9');
    await page.check('#add-learner');
    await page.click('#add-form button[type=submit]');
    expect(await actionOutcome(page)).toBe('Add http://127.0.0.1:9: done');
    const card = await page.waitForSelector('.member[data-state=down]', { timeout: 5000 });
    const id = Number(await card.getAttribute('data-id'));
    expect(await card.textContent()).toMatch(/learner/);
    expect(await card.textContent()).toMatch(/Down: its client URL is not known yet/);
    // The members' log tails show the change as etcd writes it compactly: l<id> adds a learner.
    await page.waitForFunction(`document.querySelector('.member[data-role=leader] ol.log').textContent.includes('conf change l${id}')`, undefined, { timeout: 5000 });
    await page.click(`.member[data-id="${id}"] button[data-action=remove]`);
    expect(await actionOutcome(page)).toBe(`Remove member ${id}: done`);
    await page.waitForSelector(`.member[data-id="${id}"]`, { state: 'detached', timeout: 5000 });
    await page.waitForFunction(`document.querySelector('.member[data-role=leader] ol.log').textContent.includes('conf change r${id}')`, undefined, { timeout: 5000 });
    expect(await page.$$eval('.member', (cards) => cards.length)).toBe(3);
  });

  test('shows the new leader within 3 s of kill -9 of the old one, and the old one as down', async () => {
    if (browser === null) return;
    const old = await cluster.leader();
    await page.waitForSelector(`#leader[data-leader="${old}"]`, { timeout: 5000 });
    const killedAt = Date.now();
    await cluster.stop(old, 'SIGKILL');
    await page.waitForFunction(`!['0', '${old}'].includes(document.getElementById('leader').dataset.leader)`, undefined, { timeout: 3000 });
    const elapsed = Date.now() - killedAt;
    expect(elapsed).toBeLessThan(3000);
    const shown = await shownLeader(page);
    expect(await waitFor('the members to agree on the new leader', async () => ((await cluster.leader()) === shown ? true : undefined), 5000)).toBe(true);
    await page.waitForSelector(`.member[data-id="${old}"][data-state=down]`, { timeout: 3000 });
    expect(await page.textContent(`.member[data-id="${old}"] .down-reason`)).toMatch(/^Down: /);
  });
});
