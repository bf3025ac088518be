import { describe, expect, it } from 'vitest';
import { loopbackRegistry } from './images.js';

describe('loopbackRegistry (plain HTTP only for registries on this machine)', () => {
  it('names the loopback registry host with its port', () => {
    expect(loopbackRegistry('127.0.0.1:5000/contrast/initializer@sha256:ab')).toBe('127.0.0.1:5000');
    expect(loopbackRegistry('127.1.2.3/x:1')).toBe('127.1.2.3');
    expect(loopbackRegistry('localhost:5000/x:1')).toBe('localhost:5000');
    expect(loopbackRegistry('[::1]:5000/x:1')).toBe('[::1]:5000');
  });

  it('leaves every other registry on HTTPS', () => {
    for (const ref of [
      'ghcr.io/contrast-cc/initializer:1.0.0',
      '10.0.0.1:5000/x:1',
      '127.0.0.1.evil.example/x:1',
      'library/postgres:16',
      'postgres:16',
      'localhost.example:5000/x:1',
    ]) {
      expect(loopbackRegistry(ref), ref).toBeUndefined();
    }
  });
});
