import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createMemoryLogger } from '@contrast-cc/core/testing';
import { describe, expect, it } from 'vitest';
import {
  decodeInitdataAnnotation,
  initdataDigest,
  legacyPolicyDigest,
  parseInitdataToml,
} from './assemble.js';
import { isPodInputError, type PodInputError } from './data/pod.js';
import { generatePolicy } from './generate.js';
import { RecordedImageSource } from './images/recorded.js';
import { DEFAULT_SETTINGS } from './rules/default-settings.js';
import type { PodSpecInput } from './types.js';

const GOLDEN = path.join(path.dirname(fileURLToPath(import.meta.url)), '__golden__');
const update = process.env.UPDATE_GOLDEN === '1';

function golden(name: string, actual: string): void {
  const file = path.join(GOLDEN, name);
  if (update || !existsSync(file)) {
    mkdirSync(GOLDEN, { recursive: true });
    writeFileSync(file, actual);
    if (!update) throw new Error(`golden ${name} was missing and has been written; re-run`);
  }
  expect(actual).toBe(readFileSync(file, 'utf8'));
}

const PAUSE = 'ghcr.io/edgelesssys/kubernetes/pause:3.6';
const APP = `registry.example/shop/web:1.0@sha256:${'a'.repeat(64)}`;
const FACTS = {
  [PAUSE]: {
    reference: `${PAUSE}@sha256:${'b'.repeat(64)}`,
    digest: `sha256:${'b'.repeat(64)}`,
    config: { Entrypoint: ['/pause'], User: '65535:65535' },
  },
  [APP]: {
    reference: APP,
    digest: `sha256:${'a'.repeat(64)}`,
    config: {
      Env: ['PATH=/bin'],
      Entrypoint: ['/web'],
      Cmd: ['--port=8080'],
      WorkingDir: '/srv',
      User: 'web',
    },
    passwd: 'root:x:0:0::/root:/bin/sh\nweb:x:1000:1000::/srv:/bin/sh\n',
    group: 'root:x:0:\nweb:x:1000:\n',
  },
};
const images = new RecordedImageSource(FACTS);

const pod: PodSpecInput = {
  metadata: { name: 'web', namespace: 'shop', labels: { app: 'web' } },
  spec: {
    securityContext: { runAsUser: 1000, runAsGroup: 1000, supplementalGroups: [2000] },
    initContainers: [{ name: 'init', image: APP, command: ['/web', 'migrate'] }],
    containers: [
      {
        name: 'web',
        image: APP,
        args: ['--port=9090'],
        env: [
          { name: 'MODE', value: 'prod' },
          { name: 'POD_IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
          { name: 'URL', value: 'http://$(POD_IP):9090' },
        ],
        volumeMounts: [{ name: 'cache', mountPath: '/cache' }],
        readinessProbe: { exec: { command: ['/web', 'health'] } },
      },
    ],
    volumes: [{ name: 'cache', emptyDir: {} }],
  },
};

describe('generatePolicy golden output', () => {
  it('initdata binding: policy text, TOML and digest are stable', async () => {
    const g = await generatePolicy({
      pod,
      kind: 'Deployment',
      images,
      settings: DEFAULT_SETTINGS,
      binding: 'initdata',
    });
    golden('web-deployment.policy.rego', g.policyText);
    golden('web-deployment.initdata.toml', g.initdata as string);
    expect(g.annotation.key).toBe('io.katacontainers.config.hypervisor.cc_init_data');
    const toml = decodeInitdataAnnotation(g.annotation.value);
    expect(toml).toBe(g.initdata);
    expect(parseInitdataToml(toml).data['policy.rego']).toBe(g.policyText);
    expect(g.digest).toBe(initdataDigest(toml));
    const c = g.policyData.containers;
    expect(c.map((x) => x.source_path)).toEqual(['pause', 'spec.initContainers[0]', 'spec.containers[0]']);
    const web = c[2]?.OCI.Process as Record<string, unknown>;
    expect(web.Args).toEqual(['/web', '--port=9090']);
    expect(web.User).toEqual({ UID: 1000, GID: 1000, AdditionalGids: [1000, 2000], Username: '' });
    expect(web.Env).toContain('URL=http://$(pod-ip):9090');
    expect(c[2]?.exec_commands).toEqual([['/web', 'health']]);
  });

  it('legacy binding: base64 policy annotation and sha256 of the text', async () => {
    const g = await generatePolicy({
      pod,
      kind: 'Deployment',
      images,
      settings: DEFAULT_SETTINGS,
      binding: 'legacy-policy-annotation',
    });
    expect(g.annotation.key).toBe('io.katacontainers.config.agent.policy');
    expect(Buffer.from(g.annotation.value, 'base64').toString('utf8')).toBe(g.policyText);
    expect(g.digest).toBe(legacyPolicyDigest(g.policyText));
    expect(g.initdata).toBeUndefined();
  });

  it('guest pull: an image user that needs the layers must be stated in the securityContext', async () => {
    const err = await generatePolicy({
      pod: { metadata: { name: 'x' }, spec: { containers: [{ name: 'c', image: APP }] } },
      kind: 'Pod',
      images,
      settings: DEFAULT_SETTINGS,
      binding: 'initdata',
    }).catch((e: Error) => e);
    expect(isPodInputError(err)).toBe(true);
    expect(err).toMatchObject({
      code: 'validation-failed',
      field: 'spec.containers[0].securityContext.runAsUser',
    });
    expect((err as Error).message).not.toMatch(/ERROR/);
    expect((err as PodInputError).problems).toEqual([
      {
        field: 'spec.containers[0].securityContext.runAsUser',
        message: expect.stringContaining('set runAsUser: 1000 (container level'),
        fix: {
          path: ['spec', 'containers', 0, 'securityContext', 'runAsUser'],
          value: 1000,
          source: expect.any(String),
        },
      },
      {
        field: 'spec.containers[0].securityContext.runAsGroup',
        message: expect.stringContaining('set runAsGroup: 1000'),
        fix: {
          path: ['spec', 'containers', 0, 'securityContext', 'runAsGroup'],
          value: 1000,
          source: expect.any(String),
        },
      },
    ]);
  });

  it('guest pull: every container at once, keys already set not repeated, groups once at pod level', async () => {
    const ALPINE = `registry.example/alpine-ish:1@sha256:${'c'.repeat(64)}`;
    const withGroups = new RecordedImageSource({
      ...FACTS,
      [ALPINE]: {
        reference: ALPINE,
        digest: `sha256:${'c'.repeat(64)}`,
        config: { Entrypoint: ['/bin/sh'] },
        passwd: 'root:x:0:0::/root:/bin/sh\n',
        group: 'root:x:0:\nbin:x:1:root,bin\nwheel:x:10:root\n',
      },
    });
    const err = (await generatePolicy({
      pod: {
        metadata: { name: 'x' },
        spec: {
          securityContext: { supplementalGroups: [1] },
          initContainers: [{ name: 'init', image: ALPINE }],
          containers: [
            { name: 'a', image: APP, securityContext: { runAsUser: 1000 } },
            { name: 'b', image: ALPINE },
          ],
        },
      },
      kind: 'Pod',
      images: withGroups,
      settings: DEFAULT_SETTINGS,
      binding: 'initdata',
    }).catch((e: Error) => e)) as PodInputError;
    expect(err.problems.map((p) => p.field)).toEqual([
      // runAsUser is set on "a": only the group is asked for.
      'spec.containers[0].securityContext.runAsGroup',
      'spec.securityContext.supplementalGroups',
    ]);
    expect(err.problems[1]!.message).toContain(
      'containers "init", "b": add 10 (pod level: supplementalGroups: [1, 10])',
    );
    expect(err.problems[1]!.fix?.value).toEqual([1, 10]);
  });

  it('bad input names the field', async () => {
    await expect(
      generatePolicy({
        pod: { metadata: { name: 'x' }, spec: { containers: [{ name: 'c' }] } },
        kind: 'Pod',
        images,
        settings: DEFAULT_SETTINGS,
        binding: 'initdata',
      }),
    ).rejects.toMatchObject({ field: 'spec.containers[0].image' });
    await expect(
      generatePolicy({ pod, kind: 'Frobnicator', images, settings: DEFAULT_SETTINGS, binding: 'initdata' }),
    ).rejects.toMatchObject({ field: 'kind' });
  });

  it('resolves env from ConfigMaps and Secrets; secrets never reach logs or errors', async () => {
    const mem = createMemoryLogger();
    const withRefs: PodSpecInput = {
      metadata: { name: 'cfg', namespace: 'shop' },
      spec: {
        securityContext: { runAsUser: 1000, runAsGroup: 1000 },
        containers: [
          {
            name: 'c',
            image: APP,
            envFrom: [{ configMapRef: { name: 'settings' }, prefix: 'CFG_' }],
            env: [{ name: 'TOKEN', valueFrom: { secretKeyRef: { name: 'creds', key: 'token' } } }],
          },
        ],
      },
    };
    const g = await generatePolicy({
      pod: withRefs,
      kind: 'Pod',
      images,
      settings: DEFAULT_SETTINGS,
      binding: 'initdata',
      configMaps: [{ metadata: { name: 'settings' }, data: { LEVEL: 'debug' } }],
      secrets: [
        { metadata: { name: 'creds' }, data: { token: Buffer.from('hunter2-secret').toString('base64') } },
      ],
      logger: mem.logger,
    });
    const env = (g.policyData.containers[1]?.OCI.Process as { Env: string[] } | undefined)?.Env;
    expect(env).toContain('CFG_LEVEL=debug');
    // The value is pinned in the policy (as genpolicy does; see README blind spots) ...
    expect(env).toContain('TOKEN=hunter2-secret');
    // ... but never logged.
    expect(mem.text()).not.toContain('hunter2');
    const err = await generatePolicy({
      pod: withRefs,
      kind: 'Pod',
      images,
      settings: DEFAULT_SETTINGS,
      binding: 'initdata',
      configMaps: [{ metadata: { name: 'settings' }, data: { LEVEL: 'debug' } }],
      secrets: [
        { metadata: { name: 'other' }, data: { token: Buffer.from('hunter2-secret').toString('base64') } },
      ],
      logger: mem.logger,
    }).catch((e: Error) => e);
    expect(err).toMatchObject({
      code: 'not-found',
      field: 'spec.containers[0].env[0].valueFrom.secretKeyRef.name',
    });
    expect(String((err as Error).message)).not.toContain('hunter2');
  });
});
