import { describe, expect, it } from 'vitest';
import { fromHex, toHex } from './bytes.js';
import { ContrastError, isContrastError, toContrastError } from './errors.js';
import { createLogger, type LogRecord, noopLogger } from './logger.js';

describe('ContrastError', () => {
  it('carries code, field, file and cause', () => {
    const cause = new Error('disk full');
    const err = new ContrastError('io-error', 'cannot write', { cause, field: 'out', file: 'manifest.json' });
    expect(err.code).toBe('io-error');
    expect(err.cause).toBe(cause);
    expect(err.describe()).toBe('manifest.json: out: cannot write');
    expect(isContrastError(err)).toBe(true);
  });

  it('is recognized by brand, also when it comes from another copy of core', () => {
    const foreign = Object.assign(new Error('x'), { [Symbol.for('@contrast-cc/ContrastError')]: true });
    expect(isContrastError(foreign)).toBe(true);
    expect(isContrastError(new Error('x'))).toBe(false);
    expect(isContrastError(null)).toBe(false);
  });

  it('normalizes foreign throws', () => {
    const e = toContrastError(new TypeError('boom'), 'io-error');
    expect(e.code).toBe('io-error');
    expect(e.cause).toBeInstanceOf(TypeError);
    expect(toContrastError('text').code).toBe('internal');
  });
});

describe('hex', () => {
  it('round-trips and validates length with a field name', () => {
    expect(toHex(fromHex('00ffA1'))).toBe('00ffa1');
    expect(() => fromHex('abc', { field: 'HostData' })).toThrow(ContrastError);
    // toThrow alone cannot check the field; the object match fails when nothing is thrown too.
    expect(() => fromHex('00', { field: 'HostData', length: 32 })).toThrow(
      expect.objectContaining({ field: 'HostData', message: 'expected 32 bytes of hex, got 1' }),
    );
  });
});

describe('Logger', () => {
  it('filters by level and merges child bindings', () => {
    const records: LogRecord[] = [];
    const log = createLogger((r) => records.push(r), { level: 'info' }).child({ component: 'verifier' });
    log.debug('hidden');
    log.child({ tee: 'snp' }).warn('slow', { ms: 12 });
    expect(records).toEqual([
      { level: 'warn', message: 'slow', fields: { component: 'verifier', tee: 'snp', ms: 12 } },
    ]);
  });

  it('has a no-op default whose children are no-ops', () => {
    expect(noopLogger.child({ a: 1 })).toBe(noopLogger);
    noopLogger.error('nothing happens');
  });
});
