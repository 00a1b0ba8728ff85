// A Logger for tests: it keeps every line it is given, so a test can assert on what the core or the WAL said, and
// it throws on panic as the real loggers do.
import { Logger, RaftPanic } from '../../raft/logger';

type Level = 'DEBUG' | 'INFO' | 'WARN' | 'ERROR';

export class RecordingLogger implements Logger {
  private readonly records: { level: Level; message: string }[] = [];

  /** Every line, prefixed by its level: `INFO 1 became leader at term 1`. */
  get lines(): string[] {
    return this.records.map((r) => `${r.level} ${r.message}`);
  }

  /** The messages above debug level, without prefixes. */
  messages(): string[] {
    return this.records.filter((r) => r.level !== 'DEBUG').map((r) => r.message);
  }

  debug(message: string): void {
    this.records.push({ level: 'DEBUG', message });
  }
  info(message: string): void {
    this.records.push({ level: 'INFO', message });
  }
  warning(message: string): void {
    this.records.push({ level: 'WARN', message });
  }
  error(message: string): void {
    this.records.push({ level: 'ERROR', message });
  }
  panic(message: string): never {
    throw new RaftPanic(message);
  }
}
