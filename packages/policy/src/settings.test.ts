import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applySettingsDropIns, loadPolicySettings } from './settings.js';

describe('settings with JSON-patch drop-ins', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'contrast-settings-'));
    await writeFile(
      path.join(dir, 'genpolicy-settings.json'),
      JSON.stringify({ kata_config: { oci_version: '1.1.0' }, list: [1] }),
    );
    await mkdir(path.join(dir, 'genpolicy-settings.d'));
    // applied in file-name order: 20 after 10
    await writeFile(
      path.join(dir, 'genpolicy-settings.d', '20-second.json'),
      JSON.stringify([{ op: 'replace', path: '/kata_config/oci_version', value: '1.3.0' }]),
    );
    await writeFile(
      path.join(dir, 'genpolicy-settings.d', '10-first.json'),
      JSON.stringify([
        { op: 'replace', path: '/kata_config/oci_version', value: '1.2.0' },
        { op: 'add', path: '/list/-', value: 2 },
      ]),
    );
    await writeFile(path.join(dir, 'genpolicy-settings.d', 'README.md'), 'ignored');
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('loads a directory and applies drop-ins sorted by file name', async () => {
    expect(await loadPolicySettings(dir)).toEqual({ kata_config: { oci_version: '1.3.0' }, list: [1, 2] });
  });

  it('loads a single file', async () => {
    expect(await loadPolicySettings(path.join(dir, 'genpolicy-settings.json'))).toEqual({
      kata_config: { oci_version: '1.1.0' },
      list: [1],
    });
  });

  it('names the drop-in that does not apply', () => {
    expect(() => applySettingsDropIns({}, [['30-bad.json', [{ op: 'remove', path: '/missing' }]]])).toThrow(
      /30-bad\.json/,
    );
    try {
      applySettingsDropIns({}, [['30-bad.json', [{ op: 'remove', path: '/missing' }]]]);
    } catch (e) {
      expect((e as { file?: string }).file).toBe('30-bad.json');
    }
  });

  it('missing paths and bad JSON are typed errors', async () => {
    await expect(loadPolicySettings(path.join(dir, 'nope'))).rejects.toMatchObject({ code: 'not-found' });
    await writeFile(path.join(dir, 'bad.json'), '{');
    await expect(loadPolicySettings(path.join(dir, 'bad.json'))).rejects.toMatchObject({
      code: 'invalid-argument',
    });
  });
});
