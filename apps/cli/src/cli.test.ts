import { describe, expect, it } from 'vitest';
import { runCli } from './cli.js';
import { COMMANDS } from './commands/index.js';

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
  it("prints the version, the images this build deploys and every platform's handler and reference values", async () => {
    const c = capture();
    expect(await runCli(['--version'], c.io)).toBe(0);
    const out = c.out();
    expect(out).toMatch(/^contrast \d+\.\d+\.\d+(-[\w.]+)?\n/);
    // The repository's build is unreleased: no image, and it says what to supply.
    expect(out).toMatch(
      /container images \(this contrast build\):\n {2}none: an unreleased build .*CONTRAST_IMAGES=/,
    );
    for (const id of ['Metal-QEMU-SNP', 'Metal-QEMU-TDX', 'AKS-CLH-SNP', 'Simulated-SNP', 'Simulated-TDX']) {
      expect(out).toMatch(new RegExp(`^  ${id}`, 'm'));
    }
    // Handlers named by their runtime hash; bare metal: unknown until --assets, and said so.
    expect(out).toMatch(
      /^ {2}Simulated-SNP \(INSECURE[^\n]*\n {4}runtime handler: contrast-cc-simulated-snp-[0-9a-f]{8}$/m,
    );
    expect(out).toMatch(/^ {2}AKS-CLH-SNP\n {4}runtime handler: [\w-]+$/m);
    expect(out).toMatch(/^ {2}Metal-QEMU-SNP\n {4}runtime handler: not known: .*assets/im);
    expect(out).not.toMatch(/0{64}/);

    const j = capture();
    expect(await runCli(['--version', '--json'], j.io)).toBe(0);
    const info = JSON.parse(j.out()) as {
      version: string;
      platforms: { id: string; runtimeHandlers: unknown }[];
    };
    expect(info.version).toMatch(/^\d+\.\d+\.\d+/);
    const sim = info.platforms.find((p) => p.id === 'Simulated-SNP');
    expect(Array.isArray(sim?.runtimeHandlers)).toBe(true);
    const metal = info.platforms.find((p) => p.id === 'Metal-QEMU-SNP');
    expect(metal?.runtimeHandlers).toMatchObject({ unknown: expect.stringMatching(/--assets/) });
  });

  it('--version names the images of CONTRAST_IMAGES, and says why an unpinned one is not used', async () => {
    const { mkdtempSync, writeFileSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const path = await import('node:path');
    const dir = mkdtempSync(path.join(tmpdir(), 'contrast-version-'));
    const digest = 'ab'.repeat(32);
    writeFileSync(
      path.join(dir, 'images.json'),
      JSON.stringify({ references: { initializer: `127.0.0.1:5000/initializer@sha256:${digest}` } }),
    );
    const c = capture();
    c.io.cwd = dir;
    c.io.env = { CONTRAST_IMAGES: 'images.json' };
    expect(await runCli(['--version'], c.io)).toBe(0);
    expect(c.out()).toContain(
      `container images (CONTRAST_IMAGES=images.json):\n  initializer  127.0.0.1:5000/initializer@sha256:${digest}`,
    );
    writeFileSync(path.join(dir, 'images.json'), JSON.stringify({ references: { initializer: 'x:latest' } }));
    const bad = capture();
    bad.io.cwd = dir;
    bad.io.env = { CONTRAST_IMAGES: 'images.json' };
    expect(await runCli(['--version'], bad.io)).toBe(0);
    expect(bad.out()).toMatch(
      /container images: images\.json: references\.initializer: "x:latest" is not pinned/,
    );
  });

  it('lists commands in --help and exits 0', async () => {
    const c = capture();
    expect(await runCli(['--help'], c.io)).toBe(0);
    expect(c.out()).toContain('Commands:');
    expect(c.out()).toContain('version');
    expect(c.out()).toContain('Exit codes');
    for (const name of ['runtime', 'evidence']) expect(c.out()).toMatch(new RegExp(`^  ${name} +\\S`, 'm'));
  });

  it('prints one command\'s help with "help <command>" and "<command> --help"', async () => {
    const a = capture();
    expect(await runCli(['help', 'evidence'], a.io)).toBe(0);
    expect(a.out()).toContain('contrast evidence verify --snp-report');
    const b = capture();
    expect(await runCli(['evidence', '--help'], b.io)).toBe(0);
    expect(b.out()).toBe(a.out());
  });

  it('gives every command help a newcomer can act on: what it does, usage, an example, exit codes', async () => {
    expect(COMMANDS.length).toBeGreaterThanOrEqual(7);
    for (const entry of COMMANDS) {
      const c = capture();
      expect(await runCli([entry.name, '--help'], c.io), entry.name).toBe(0);
      const help = c.out();
      const need = (what: string, re: RegExp) =>
        expect(help, `"contrast ${entry.name} --help" lacks ${what}`).toMatch(re);
      need(
        'a first line "contrast <name> — what it does"',
        new RegExp(`^contrast ${entry.name}\\b[^\\n]* — \\S`),
      );
      need('a "Usage:" section', /^Usage:$/m);
      need('a usage line', new RegExp(`^ +contrast ${entry.name}\\b`, 'm'));
      need('an "Example:" or "Examples:" section', /^Examples?:$/m);
      need('"Exit codes:" explaining 0, 1 and 2', /^Exit codes: 0 .*\b1 .*\b2 /ms);
      expect(help.endsWith('\n'), entry.name).toBe(true);
    }
  });

  it('reports a command that throws as an internal error with exit 1', async () => {
    const c = capture();
    const boom = {
      name: 'boom',
      summary: 'throws',
      load: async () => ({
        name: 'boom',
        summary: '',
        help: '',
        run: async () => {
          throw new Error('kaput');
        },
      }),
    };
    expect(await runCli(['boom'], c.io, [boom])).toBe(1);
    expect(c.err()).toBe('contrast boom: internal error: kaput\n');
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

describe('global flags', () => {
  it('are taken out of argv wherever they stand, up to --', async () => {
    const { takeGlobalFlags } = await import('./cli.js');
    expect(takeGlobalFlags(['--log-level', 'debug', 'set', '-c', 'x', '--workspace-dir=ws', 'dir/'])).toEqual(
      {
        argv: ['set', '-c', 'x', 'dir/'],
        logLevel: 'debug',
        workspaceDir: 'ws',
      },
    );
    expect(takeGlobalFlags(['policy', 'explain', '--', '--log-level', 'x'])).toEqual({
      argv: ['policy', 'explain', '--', '--log-level', 'x'],
    });
    expect(takeGlobalFlags(['verify', '--log-level'])).toEqual({ error: '--log-level needs a value' });
    expect(takeGlobalFlags(['verify', '--workspace-dir='])).toEqual({
      error: '--workspace-dir needs a directory',
    });
  });

  it('work with every command (--log-level debug and --workspace-dir with --help)', async () => {
    for (const entry of COMMANDS) {
      const c = capture();
      const code = await runCli(['--log-level', 'debug', entry.name, '--workspace-dir', '.', '--help'], c.io);
      expect(code, entry.name).toBe(0);
      expect(c.err(), entry.name).toBe('');
    }
  });

  it('refuse an unknown log level with exit 2', async () => {
    const c = capture();
    expect(await runCli(['--log-level', 'loud', 'verify'], c.io)).toBe(2);
    expect(c.err()).toMatch(/--log-level loud: use one of debug, info, warn, error/);
  });
});
