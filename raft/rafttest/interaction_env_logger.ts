// # The scenario output buffer
//
// A scenario's expected output interleaves what the harness prints (Ready structs, delivered messages) with what
// the core logs while it works. Both go to one buffer: the core's Logger writes here, prefixed by its level, and
// the harness writes here directly. The level a scenario sets with `log-level` filters the core's lines; the
// highest level, NONE, silences the harness too, which keeps long setups quiet.

import { Logger, RaftPanic } from '../logger';

/** Level names in increasing severity; a scenario names one of them in `log-level`. */
export const levelNames = ['DEBUG', 'INFO', 'WARN', 'ERROR', 'FATAL', 'NONE'] as const;

const debugLevel = 0;
const infoLevel = 1;
const warnLevel = 2;
const errorLevel = 3;
const fatalLevel = 4;
const quietLevel = levelNames.length - 1;

/** A Logger that writes into the scenario output, and the output itself. */
export class RedirectLogger implements Logger {
  private text = '';
  /** The least severe level printed: 0 = DEBUG ... 5 = NONE. Invariant: 0 <= level <= 5. */
  level = debugLevel;

  /** True at level NONE, where nothing but errors reaches the output. */
  quiet(): boolean {
    return this.level === quietLevel;
  }

  /** Appends text unless the output is quiet. */
  write(s: string): void {
    if (!this.quiet()) {
      this.text += s;
    }
  }

  /** Appends text and a newline unless the output is quiet. */
  writeLine(s: string): void {
    this.write(s + '\n');
  }

  /** Appends text even when quiet: errors are always shown. */
  writeAlways(s: string): void {
    this.text += s;
  }

  toString(): string {
    return this.text;
  }

  get length(): number {
    return this.text.length;
  }

  reset(): void {
    this.text = '';
  }

  /**
   * Runs `f` with a fresh buffer and returns what it wrote, leaving the buffer as it was. Whatever `f` throws is
   * returned too, so that the caller can still show the output that preceded a failure.
   */
  capture(f: () => void): { text: string; failure: unknown } {
    const saved = this.text;
    this.text = '';
    let failure: unknown = undefined;
    try {
      f();
    } catch (err) {
      failure = err;
    }
    const text = this.text;
    this.text = saved;
    return { text, failure };
  }

  /** Switches to the level of the given name (any case); throws for an unknown name. */
  setLevel(name: string): void {
    const i = levelNames.findIndex((n) => n.toLowerCase() === name.toLowerCase());
    if (i < 0) {
      throw new Error(`log levels must be either of [${levelNames.join(' ')}]`);
    }
    this.level = i;
  }

  private log(level: number, message: string): void {
    if (this.level <= level) {
      // Like a printf-style logger, a message that already ends its line gets no second newline.
      this.write(`${levelNames[level]} ${message}${message.endsWith('\n') ? '' : '\n'}`);
    }
  }

  debug(message: string): void {
    this.log(debugLevel, message);
  }

  info(message: string): void {
    this.log(infoLevel, message);
  }

  warning(message: string): void {
    this.log(warnLevel, message);
  }

  error(message: string): void {
    this.log(errorLevel, message);
  }

  panic(message: string): never {
    this.log(fatalLevel, message);
    throw new RaftPanic(message);
  }
}
