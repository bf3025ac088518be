import { describe, expect, it } from 'vitest';
import { retryAfterMs } from './http.js';

describe('retryAfterMs', () => {
  const now = Date.parse('2026-12-07T10:00:00Z');

  it('reads delay-seconds and the three HTTP-date forms', () => {
    expect(retryAfterMs('3', now)).toBe(3000);
    expect(retryAfterMs(' 0 ', now)).toBe(0);
    expect(retryAfterMs('Mon, 07 Dec 2026 10:00:05 GMT', now)).toBe(5000);
    expect(retryAfterMs('Monday, 07-Dec-26 10:00:02 GMT', now)).toBe(2000);
    // asctime names no zone: it is GMT all the same, whatever the machine's zone.
    expect(retryAfterMs('Mon Dec  7 10:00:01 2026', now)).toBe(1000);
    expect(retryAfterMs('Mon, 07 Dec 2026 09:00:00 GMT', now)).toBe(0);
    expect(retryAfterMs(['2', '9'], now)).toBe(2000);
  });

  it('gives undefined for anything else', () => {
    for (const bad of [
      undefined,
      null,
      '',
      '  ',
      '-1',
      '1.5',
      '1e3',
      '2026-12-07',
      'soon',
      'Mon, garbage',
      [],
    ]) {
      expect(retryAfterMs(bad, now)).toBeUndefined();
    }
  });
});
