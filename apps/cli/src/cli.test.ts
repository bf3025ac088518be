import { describe, expect, it } from 'vitest';
import { runCli } from './cli.js';

function capture() {
  let out = '';
  let err = '';
  return {
    io: {
      stdout: (t: string) => {
        out += t;
      },
      stderr: (t: string) => {
        err += t;
      },
      cwd: process.cwd(),
      env: {},
    },
    out: () => out,
    err: () => err,
  };
}

describe('contrast CLI shell', () => {
  it('prints the package version', async () => {
    const c = capture();
    expect(await runCli(['--version'], c.io)).toBe(0);
    expect(c.out()).toMatch(/^\d+\.\d+\.\d+(-[\w.]+)?\n$/);
  });

  it('lists commands in --help and exits 0', async () => {
    const c = capture();
    expect(await runCli(['--help'], c.io)).toBe(0);
    expect(c.out()).toContain('Commands:');
    expect(c.out()).toContain('version');
    expect(c.out()).toContain('Exit codes');
  });

  it('without arguments prints help and exits 2 (usage)', async () => {
    const c = capture();
    expect(await runCli([], c.io)).toBe(2);
    expect(c.out()).toContain('Usage:');
  });

  it('refuses an unknown command with exit 2 and a pointer to --help', async () => {
    const c = capture();
    expect(await runCli(['frobnicate'], c.io)).toBe(2);
    expect(c.err()).toContain('unknown command "frobnicate"');
    expect(c.out()).toBe('');
  });
});
