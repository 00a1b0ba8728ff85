// # How a member asks V8 to run it
//
// Two settings of the JavaScript engine decide much of a member's latency, and neither default suits a server that
// restarts under load and keeps part of what it allocates. Both are set at run time, so they hold however the
// member was launched; either one given to Node itself (its command line, or NODE_OPTIONS) is left as it is. A third,
// the size of V8's pool of worker threads, is read only as the process starts, so the launchers set it
// (`memberProcessEnv` in kvstore/defaults.ts).

import v8 from 'node:v8';

// Whether a V8 flag containing `name` was given to Node itself.
function givenToNode(name: string): boolean {
  return [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)].some((a) => a.includes(name));
}

// ## When the JIT optimises
//
// V8 tiers a function up to optimised code (TurboFan, compiled on background threads) once enough interpreted work
// has gone through it, counted in an "interrupt budget" of bytecode. A member wants two different things of this:
//
// - While it starts it runs code that runs once: module bodies, the WAL replay, the snapshot restore, the first
//   election or the catch-up. Optimising that is wasted work, and on a busy machine the compiler threads take the
//   cores the start itself needs. A budget four times V8's default keeps them out of the way.
// - Once it serves, every request runs the same few dozen functions, and the sooner those are optimised the sooner
//   the member reaches its steady CPU per request. With V8's default that took 10 s and more of load; a quarter of
//   it takes two to four seconds.
//
// So a member starts with the large budget and switches to the small one half a second after it begins to serve,
// by when a restarted follower has usually heard from the leader and caught up. Measured in docs/operations.md
// ("A restarted member's first seconds").
const STARTING_INTERRUPT_BUDGET = 4 * 67_584;
const SERVING_INTERRUPT_BUDGET = 16_384;
const SERVING_BUDGET_DELAY_MS = 500;

const budgetOnCommandLine = givenToNode('--interrupt-budget');

// The budget is read each time V8 resets a function's counter, so a change applies from then on.
function setInterruptBudget(bytes: number): void {
  if (!budgetOnCommandLine) v8.setFlagsFromString(`--interrupt-budget=${bytes}`);
}

/** The large budget, for the start. */
export function enterStartingBudget(): void {
  setInterruptBudget(STARTING_INTERRUPT_BUDGET);
}

/** The small budget, from half a second after the member begins to serve. */
export function enterServingBudget(): void {
  setTimeout(() => setInterruptBudget(SERVING_INTERRUPT_BUDGET), SERVING_BUDGET_DELAY_MS).unref();
}

// ## How large the young generation grows
//
// New objects are born in the young generation, and a scavenge copies out the ones still alive when it fills; the
// program waits meanwhile. V8 starts it small and doubles it, up to 32 MiB, whenever enough of it survives.
// A member keeps part of what each request allocates (the log entries until the next snapshot, the key history,
// the value), so enough survives: its young generation grows to the ceiling, and each scavenge then copies more at
// once while every request in flight waits. Kept at its first size, scavenges come more often and each is short,
// and the memory they touch stays in the processor's caches: one client's puts through a random member had a p99
// of 5.7 to 6.6 ms in five runs this way against 7.7 and 8.7 ms in two with V8's growth, and 64 clients' puts went
// from 4,340 a second to 5,250 to 5,930 (docs/operations.md, "A small young generation"). V8 reads the growth factor
// each time it grows the space, so setting it at once, before the first growth, keeps the space at its first size
// (2 MiB in all, measured in a member under load, against 32 MiB with V8's growth).
const youngGenerationOnCommandLine = givenToNode('semi-space');

/** Keeps the young generation at its first size (unless Node was told how to size it). */
export function keepYoungGenerationSmall(): void {
  if (!youngGenerationOnCommandLine) v8.setFlagsFromString('--semi-space-growth-factor=1');
}
