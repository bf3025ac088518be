/** Structured fields attached to a log line. Never put secrets here. @public */
export type LogFields = Record<string, unknown>;

/**
 * The logging contract. Libraries never print: they receive a Logger and call it; apps decide
 * where lines go (pino in services, the CLI's own output in the CLI).
 * @public
 */
export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
  /** A logger whose lines all carry `bindings` (e.g. `{ component: 'verifier' }`). */
  child(bindings: LogFields): Logger;
}

/** @public */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/** @public */
export const LOG_LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error'];

/** A logger that drops everything: the default wherever none is injected. @public */
export const noopLogger: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
  child() {
    return noopLogger;
  },
};

/** One line as seen by a {@link LogSink}. @public */
export interface LogRecord {
  level: LogLevel;
  message: string;
  fields: LogFields;
}

/** Where a sink-backed logger sends its records. @public */
export type LogSink = (record: LogRecord) => void;

/**
 * Builds a Logger on a sink function; `child()` merges bindings into every record.
 * Apps adapt this to pino or the console; tests use it to capture lines.
 * @public
 */
export function createLogger(
  sink: LogSink,
  options: { level?: LogLevel; bindings?: LogFields } = {},
): Logger {
  const min = LOG_LEVELS.indexOf(options.level ?? 'debug');
  const bindings = options.bindings ?? {};
  const emit = (level: LogLevel) => (message: string, fields?: LogFields) => {
    if (LOG_LEVELS.indexOf(level) < min) return;
    sink({ level, message, fields: { ...bindings, ...fields } });
  };
  return {
    debug: emit('debug'),
    info: emit('info'),
    warn: emit('warn'),
    error: emit('error'),
    child: (more) =>
      createLogger(sink, { level: options.level ?? 'debug', bindings: { ...bindings, ...more } }),
  };
}

/** Options of {@link createJsonLineLogger}. @public */
export interface JsonLineLoggerOptions {
  /** The lowest level written (default `debug`). */
  level?: LogLevel;
  /**
   * How long a debug or info line may wait to be written with the lines after it, in ms (default
   * 50; 0 writes every line at once). A warn or error line is written at once, after what waits.
   */
  maxDelayMs?: number;
  /** Waiting text of at least this many characters is written at once (default 16384). */
  maxPendingChars?: number;
}

/** A {@link Logger} that writes JSON lines, with the lines still waiting. @public */
export interface JsonLineLogger extends Logger {
  /** Writes the lines that wait, now. */
  flush(): void;
}

/** JSON-line loggers with lines waiting: written when the process exits. */
const waiting = new Set<() => void>();
let exitHooked = false;
function flushAtExit(flush: () => void): void {
  waiting.add(flush);
  if (exitHooked) return;
  exitHooked = true;
  // Node's 'exit' (also after process.exit() and an uncaught exception); elsewhere, nothing.
  const proc = (globalThis as { process?: { once?(event: 'exit', listener: () => void): unknown } }).process;
  proc?.once?.('exit', () => {
    for (const f of [...waiting]) f();
  });
}

/**
 * The services' log format: one JSON object per line, `{"time":ISO-8601,"level","msg",...fields}`,
 * handed to `write` (the apps give stdout). Debug and info lines logged within `maxDelayMs` go out
 * in one write: the Coordinator logs every certificate it issues, and under 200 concurrent
 * initializers a write per line (the stream machinery and a syscall each) cost about 1% of its CPU.
 * A warn or error line goes out at once together with what waited before it, so order is kept;
 * lines still waiting are written when the process exits (Node's `exit` event, where stdout
 * writes synchronously to a file, a TTY or, on Linux, a pipe) or on `flush()`.
 * @public
 */
export function createJsonLineLogger(
  write: (text: string) => void,
  options: JsonLineLoggerOptions = {},
): JsonLineLogger {
  const maxDelayMs = options.maxDelayMs ?? 50;
  const maxPendingChars = options.maxPendingChars ?? 16_384;
  let pending = '';
  let timer: ReturnType<typeof setTimeout> | undefined;
  const flush = (): void => {
    if (timer !== undefined) {
      clearTimeout(timer);
      timer = undefined;
    }
    waiting.delete(flush);
    if (pending === '') return;
    const text = pending;
    pending = '';
    write(text);
  };
  const sink: LogSink = (r) => {
    pending += `${JSON.stringify({ time: new Date().toISOString(), level: r.level, msg: r.message, ...r.fields })}\n`;
    if (r.level === 'warn' || r.level === 'error' || maxDelayMs <= 0 || pending.length >= maxPendingChars) {
      flush();
    } else if (timer === undefined) {
      timer = setTimeout(flush, maxDelayMs);
      // Waiting lines do not keep the process alive: they are written at its exit.
      (timer as { unref?(): void }).unref?.();
      flushAtExit(flush);
    }
  };
  const logger = createLogger(sink, { level: options.level ?? 'debug' });
  return { ...logger, flush };
}
