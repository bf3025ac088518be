import { toHex } from '../bytes.js';
import { createLogger, type Logger, type LogRecord } from '../logger.js';

/** A logger that keeps every record, for assertions (e.g. "no secret is ever logged"). @public */
export interface MemoryLogger {
  logger: Logger;
  records: LogRecord[];
  /** Every record as one JSON line, for searching. */
  text(): string;
}

/** @public */
export function createMemoryLogger(): MemoryLogger {
  const records: LogRecord[] = [];
  return {
    logger: createLogger((r) => records.push(r)),
    records,
    text: () =>
      records.map((r) => JSON.stringify(r, (_k, v) => (v instanceof Uint8Array ? toHex(v) : v))).join('\n'),
  };
}
