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
