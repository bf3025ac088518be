// The services' JSON-line logger: the format every app writes to stdout, lines batched into
// fewer writes without losing order, and nothing left behind at exit.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createJsonLineLogger } from './logger.js';

describe('createJsonLineLogger', () => {
  beforeEach(() => {
    vi.useFakeTimers();
    vi.setSystemTime(new Date('2026-12-07T05:00:00.000Z'));
  });
  afterEach(() => vi.useRealTimers());

  it('writes one JSON object per line with time, level, msg and the fields', () => {
    const writes: string[] = [];
    const log = createJsonLineLogger((t) => writes.push(t), { maxDelayMs: 0 });
    log.info('issued', { serial: 'ab', sans: ['web'] });
    log.child({ component: 'ca' }).debug('x', { n: 1 });
    expect(writes).toEqual([
      '{"time":"2026-12-07T05:00:00.000Z","level":"info","msg":"issued","serial":"ab","sans":["web"]}\n',
      '{"time":"2026-12-07T05:00:00.000Z","level":"debug","msg":"x","component":"ca","n":1}\n',
    ]);
  });

  it('writes the info lines of one delay in one write, with the time each was logged', () => {
    const writes: string[] = [];
    const log = createJsonLineLogger((t) => writes.push(t), { maxDelayMs: 50 });
    log.info('a');
    vi.advanceTimersByTime(10);
    log.info('b');
    expect(writes).toEqual([]);
    vi.advanceTimersByTime(40);
    expect(writes).toHaveLength(1);
    const lines = writes[0]!
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines.map((l) => [l.msg, l.time])).toEqual([
      ['a', '2026-12-07T05:00:00.000Z'],
      ['b', '2026-12-07T05:00:00.010Z'],
    ]);
    vi.advanceTimersByTime(1000);
    expect(writes).toHaveLength(1);
  });

  it('writes a warn or error line at once, after the lines that wait, in order', () => {
    const writes: string[] = [];
    const log = createJsonLineLogger((t) => writes.push(t));
    log.info('first');
    log.error('boom', { code: 'internal' });
    expect(writes).toHaveLength(1);
    expect(
      writes[0]!
        .trimEnd()
        .split('\n')
        .map((l) => JSON.parse(l).msg),
    ).toEqual(['first', 'boom']);
    log.warn('careful');
    expect(writes).toHaveLength(2);
  });

  it('writes at once when the waiting text reaches maxPendingChars, and on flush()', () => {
    const writes: string[] = [];
    const log = createJsonLineLogger((t) => writes.push(t), { maxPendingChars: 200 });
    log.info('x'.repeat(50));
    expect(writes).toHaveLength(0);
    log.info('y'.repeat(150));
    expect(writes).toHaveLength(1);
    log.debug('z');
    log.flush();
    expect(writes).toHaveLength(2);
    log.flush();
    expect(writes).toHaveLength(2);
  });

  it('keeps to its level', () => {
    const writes: string[] = [];
    const log = createJsonLineLogger((t) => writes.push(t), { level: 'warn', maxDelayMs: 0 });
    log.info('no');
    log.debug('no');
    log.warn('yes');
    expect(writes.join('')).not.toContain('"no"');
    expect(writes).toHaveLength(1);
  });
});

/** The shared TypeScript loader for child processes (tools/build-config/ts-register.mjs). */
const register = createRequire(import.meta.url).resolve('@contrast-cc/build-config/ts-register');

describe('createJsonLineLogger at process exit', () => {
  it('writes the lines that wait when the process exits (process.exit and the end of work)', () => {
    const entry = fileURLToPath(new URL('./logger.ts', import.meta.url));
    for (const ending of ['process.exit(3)', '']) {
      const script = `
        const { createJsonLineLogger } = await import(${JSON.stringify(entry)});
        const log = createJsonLineLogger((t) => process.stdout.write(t), { maxDelayMs: 60_000 });
        log.info('one'); log.info('two');
        ${ending}`;
      const r = spawnSync(process.execPath, ['--import', register, '--input-type=module', '-e', script], {
        encoding: 'utf8',
      });
      expect(r.stderr).toBe('');
      expect(
        r.stdout
          .trimEnd()
          .split('\n')
          .map((l) => JSON.parse(l).msg),
      ).toEqual(['one', 'two']);
      expect(r.status).toBe(ending ? 3 : 0);
    }
  });
});
