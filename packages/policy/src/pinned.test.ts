import { readFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { AgentPolicy } from './agent/agent.js';
import { explainDenial } from './agent/denial.js';
import { normalizeRequest } from './agent/normalize.js';
import { loadRecordedImages } from './conformance/run.js';
import { generatePolicy } from './generate.js';
import { loadPolicySettings } from './settings.js';
import { CONFORMANCE_FIXTURE, HAS_KATA_POLICY, KATA_POLICY_DIR } from './test-support/shared.js';
import type { GeneratedPolicy } from './types.js';

if (!HAS_KATA_POLICY) console.warn(`skipping pinned-field tests: ${KATA_POLICY_DIR} not found`);

type Req = {
  OCI: { Process: { Args: string[]; Env: string[] }; Annotations: Record<string, string>; Mounts: unknown[] };
  storages: Array<Record<string, unknown>>;
};

describe.skipIf(!HAS_KATA_POLICY)('changing a pinned field is denied', () => {
  const dir = path.join(KATA_POLICY_DIR, 'testdata/createcontainer/gid');
  let generated: GeneratedPolicy;
  let base: Req;
  beforeAll(async () => {
    const pod = parse(readFileSync(path.join(dir, 'pod.yaml'), 'utf8'));
    const settings = await loadPolicySettings(path.join(KATA_POLICY_DIR, 'settings/genpolicy-settings.json'));
    generated = await generatePolicy({
      pod,
      kind: 'Pod',
      images: await loadRecordedImages(CONFORMANCE_FIXTURE),
      settings,
      binding: 'initdata',
    });
    base = JSON.parse(readFileSync(path.join(dir, 'testcases.json'), 'utf8'))[0].request;
  });

  function decide(mutate: (r: Req) => void): { allowed: boolean; why: string } {
    const req = structuredClone(base);
    mutate(req);
    const agent = new AgentPolicy(generated.policyText);
    const d = agent.evaluate('CreateContainerRequest', normalizeRequest('CreateContainerRequest', req));
    return { allowed: d.allowed, why: explainDenial('CreateContainerRequest', d) };
  }

  it('the unmodified request is allowed', () => {
    expect(decide(() => {}).allowed).toBe(true);
  });

  it('command (Args)', () => {
    const r = decide((q) => {
      q.OCI.Process.Args = ['sh'];
    });
    expect(r.allowed).toBe(false);
    expect(r.why).toMatch(/process_ok|Args/);
  });

  it('env', () => {
    const r = decide((q) => {
      q.OCI.Process.Env.push('LD_PRELOAD=/evil.so');
    });
    expect(r.allowed).toBe(false);
    expect(r.why).toMatch(/env/);
  });

  it('image digest (annotation and storage source)', () => {
    const other =
      'ghcr.io/burgerdev/weird-images/gid@sha256:0000000000000000000000000000000000000000000000000000000000000000';
    const r = decide((q) => {
      q.OCI.Annotations['io.kubernetes.cri.image-name'] = other;
      (q.storages[0] as Record<string, unknown>).source = other;
    });
    expect(r.allowed).toBe(false);
    expect(r.why).toMatch(/image|guest_pull_source_ok|storage/);
  });

  it('fields the rules reject outright (hooks, rlimits, AppArmor override, OCI hooks)', () => {
    for (const mutate of [
      (q: Req) => {
        (q.OCI as Record<string, unknown>).Hooks = { Prestart: [{ Path: '/bin/evil' }] };
      },
      (q: Req) => {
        (q.OCI.Process as Record<string, unknown>).Rlimits = [{ Type: 'RLIMIT_NOFILE', Hard: 1, Soft: 1 }];
      },
      (q: Req) => {
        (q.OCI.Process as Record<string, unknown>).ApparmorProfile = 'unconfined';
      },
    ]) {
      const r = decide(mutate);
      expect(r.allowed).toBe(false);
      expect(r.why).toMatch(/create_input_ok/);
    }
  });

  it('an unknown annotation is denied, even one named __proto__ (no prototype tricks)', () => {
    for (const key of ['example.com/extra', '__proto__', 'constructor']) {
      const req = structuredClone(base);
      const raw = JSON.parse(JSON.stringify(req)) as Req;
      const annotations = JSON.parse(
        JSON.stringify(raw.OCI.Annotations).replace(/^\{/, `{${JSON.stringify(key)}: "x", `),
      ) as Record<string, string>;
      expect(Object.keys(annotations)).toContain(key);
      const r = decide((q) => {
        q.OCI.Annotations = annotations;
      });
      expect(r.allowed, key).toBe(false);
    }
  });

  it('mount', () => {
    const r = decide((q) => {
      q.OCI.Mounts.push({ destination: '/host', source: '/', type_: 'bind', options: ['rbind', 'rw'] });
    });
    expect(r.allowed).toBe(false);
    expect(r.why).toMatch(/mount/);
  });
});
