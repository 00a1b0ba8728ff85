// The browser simulator in a real headless Chromium, opened from the file system as a reader would open it: every
// scenario loads; the split vote and Figure 8 play out from their seeds to the same state every time; rewinding
// with the slider and playing forward again gives an identical state; a message dropped by clicking it changes the
// outcome as the narration says; a member's menu crashes it. The states compared are the members' state the page
// exposes (`window.__tsraftSim.state()`), never pixels. The test also refreshes the screenshot in docs/sim/.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { buildSimulator } from '../../docs/sim/build';
import type { Explanation } from '../../raft/rafttest/explain';
import type { SimAction, SimState } from '../../raft/rafttest/timeline';
import { launchBrowser } from '../support/browser';

// The page's hook, as the test calls it inside the page.
interface Hook {
  scenarios(): string[];
  load(id: string, seed?: number): void;
  state(): SimState;
  events(): Explanation[];
  position(): number;
  seek(position: number): void;
  step(n: number): void;
  runUntil(ms: number): void;
  act(action: SimAction): boolean;
  pause(): void;
}
type HookGlobal = { __tsraftSim: Hook };

const screenshot = path.resolve(__dirname, '../../docs/sim/screenshot.png');

let browser: Browser | null = null;
let page: Page;
let url = '';
const pageErrors: string[] = [];

beforeAll(async () => {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'tsraft-sim-'));
  url = `file://${await buildSimulator(out)}`;
  browser = await launchBrowser();
  if (browser === null) {
    return;
  }
  page = await browser.newPage({ viewport: { width: 1180, height: 760 } });
  page.on('pageerror', (err) => pageErrors.push(err.message));
  await page.goto(url);
  await page.waitForSelector('body[data-ready="true"]');
}, 120_000);

afterAll(async () => {
  await browser?.close();
});

// Loads a scenario and runs it to simulated time `ms`; returns the state and the side log.
async function playOut(id: string, ms: number, seed?: number): Promise<{ state: SimState; events: Explanation[] }> {
  return page.evaluate(
    ([scenario, until, s]) => {
      const sim = (globalThis as unknown as HookGlobal).__tsraftSim;
      sim.load(scenario as string, s === null ? undefined : (s as number));
      sim.runUntil(until as number);
      return { state: sim.state(), events: sim.events() };
    },
    [id, ms, seed ?? null] as const,
  );
}

function skipped(): boolean {
  if (browser === null) {
    console.warn('Skipping the simulator page checks: no browser (see the message above).');
    return true;
  }
  return false;
}

test('every scenario loads and runs in the page, with each event naming its rule', async () => {
  if (skipped()) {
    return;
  }
  const ids = await page.evaluate(() => (globalThis as unknown as HookGlobal).__tsraftSim.scenarios());
  expect(ids.length).toBeGreaterThanOrEqual(11);
  for (const id of ids) {
    const { state, events } = await playOut(id, 400);
    expect(state.scenario).toBe(id);
    expect(state.members.length).toBeGreaterThanOrEqual(3);
    expect(state.members.length).toBeLessThanOrEqual(7);
    expect(events.length).toBeGreaterThan(0);
  }
  // The side log links its rules to the annotated source, relatively, and names the file and line.
  const link = await page.locator('#events a.rule').first().getAttribute('href');
  expect(link).toMatch(/^\.\.\/annotated\/raft\/[a-z_/]+\.html#section-\d+$/);
  expect(await page.locator('#events .src').first().textContent()).toMatch(/^raft\/[a-z_/]+\.ts:\d+$/);
  expect(pageErrors).toEqual([]);
});

test('the split vote and Figure 8 play out from their seeds to the same state every time', async () => {
  if (skipped()) {
    return;
  }
  const split = await playOut('split-vote', 400);
  expect(split.events.some((e) => /leads term 2/.test(e.text))).toBe(false);
  expect(split.state.leader).toBe(4);
  expect(split.state.members.map((m) => m.term)).toEqual([3, 3, 3, 3]);
  const fig8 = await playOut('figure-8', 800);
  expect(fig8.state.members.every((m) => m.log.find((e) => e.index === 3)?.term === 3)).toBe(true);
  // Again, after reloading the page: the same states, event for event.
  await page.reload();
  await page.waitForSelector('body[data-ready="true"]');
  expect(await playOut('split-vote', 400)).toEqual(split);
  expect(await playOut('figure-8', 800)).toEqual(fig8);
});

test('rewinding with the slider and replaying gives an identical state', async () => {
  if (skipped()) {
    return;
  }
  const result = await page.evaluate(() => {
    const sim = (globalThis as unknown as HookGlobal).__tsraftSim;
    sim.load('free-5', 9);
    sim.step(400);
    sim.act({ kind: 'crash', node: sim.state().leader });
    sim.step(300);
    sim.act({ kind: 'propose', node: sim.state().leader });
    sim.act({ kind: 'partition', node: 2 });
    sim.step(300);
    sim.act({ kind: 'heal' });
    // The state at a position includes the actions taken there.
    const atThousand = sim.state();
    sim.step(500);
    return { atThousand, end: sim.state() };
  });
  expect(result.end.position).toBe(1500);
  // Drag the slider back to 1000 as a reader would, then forward to the end.
  const slider = page.locator('#slider');
  await slider.fill('1000');
  const rewound = await page.evaluate(() => (globalThis as unknown as HookGlobal).__tsraftSim.state());
  expect(rewound).toEqual({ ...result.atThousand, horizon: 1500 });
  await slider.fill('1500');
  expect(await page.evaluate(() => (globalThis as unknown as HookGlobal).__tsraftSim.state())).toEqual(result.end);
});

test('dropping a message by clicking it ends the split vote, as the narration says; the menu crashes a member', async () => {
  if (skipped()) {
    return;
  }
  await page.evaluate(() => {
    const sim = (globalThis as unknown as HookGlobal).__tsraftSim;
    sim.load('split-vote');
    for (let i = 0; i < 300; i++) {
      if (sim.state().inFlight.some((m) => m.from === 3 && m.to === 2 && m.type === 'MsgVote')) {
        return;
      }
      sim.step(1);
    }
  });
  const vote = await page.evaluate(() =>
    (globalThis as unknown as HookGlobal).__tsraftSim.state().inFlight.find((m) => m.from === 3 && m.to === 2 && m.type === 'MsgVote'),
  );
  expect(vote).toBeDefined();
  await page.locator(`#ring [data-msg="${(vote as { id: number }).id}"] circle`).click({ force: true });
  const after = await page.evaluate(() => {
    const sim = (globalThis as unknown as HookGlobal).__tsraftSim;
    sim.runUntil(400);
    return { state: sim.state(), events: sim.events() };
  });
  expect(after.events.some((e) => /^you drop 3→2 MsgVote/.test(e.text))).toBe(true);
  expect(after.events.some((e) => e.text === '4 has votes from a majority: it leads term 2')).toBe(true);
  expect(after.state.leader).toBe(4);

  // Click member 4 (the leader) and crash it from its menu.
  await page.locator('#ring [data-member="4"] circle.body').click();
  await page.locator('#menu button', { hasText: 'Crash' }).click();
  const crashed = await page.evaluate(() => (globalThis as unknown as HookGlobal).__tsraftSim.state().members[3]);
  expect(crashed.up).toBe(false);
  expect(pageErrors).toEqual([]);
});

test('play runs simulated time forward, and pause stops it', async () => {
  if (skipped()) {
    return;
  }
  await page.evaluate(() => (globalThis as unknown as HookGlobal).__tsraftSim.load('free-3', 5));
  await page.locator('#speed').fill('3');
  await page.locator('#play').click();
  const hook = (): Promise<number> => page.evaluate(() => (globalThis as unknown as HookGlobal).__tsraftSim.state().now);
  const deadline = Date.now() + 10_000;
  while ((await hook()) < 150 && Date.now() < deadline) {
    await page.waitForTimeout(50);
  }
  await page.locator('#play').click();
  const paused = await hook();
  expect(paused).toBeGreaterThanOrEqual(150);
  await page.waitForTimeout(200);
  expect(await hook()).toBe(paused);
  expect(await page.locator('#events li').count()).toBeGreaterThan(0);
});

test('a screenshot of the simulator in docs/sim/ (Figure 8 at its turning point)', async () => {
  if (skipped()) {
    return;
  }
  await page.setViewportSize({ width: 1100, height: 640 });
  await playOut('figure-8', 240);
  await page.screenshot({ path: screenshot });
  const bytes = fs.statSync(screenshot).size;
  expect(bytes).toBeGreaterThan(10_000);
  expect(bytes).toBeLessThan(200_000);
});
