import { describe, expect, it } from 'vitest';
import { assemblePolicyText, splitPolicyText } from './assemble.js';
import type { ExplainYaml, RequestExplanation } from './explain.js';
import { explainRequest, explainRequests, yamlLineOf } from './explain.js';
import { RecordedImageSource } from './images/recorded.js';
import {
  FIXTURE_APP_IMAGE as APP,
  execProcessRequest,
  type FixtureCreateContainerRequest,
  fixtureDeploymentYaml,
  fixtureImages,
  generateFixturePolicy,
  FIXTURE_PAUSE_IMAGE as PAUSE,
  createContainerRequest as request,
} from './testing/index.js';
import type { ImageSource } from './types.js';

const images = fixtureImages();

const YAML = fixtureDeploymentYaml({
  container: `          readinessProbe:
            exec:
              command: [/web, health]
`,
});

/** The policy `contrast generate` writes for the Deployment in `yaml` (initdata binding, default settings). */
async function generateWeb(yaml = YAML, imageSource: ImageSource = images) {
  return generateFixturePolicy(yaml, { images: imageSource });
}

/** explainRequest of the fixture CreateContainerRequest after `change`, with the YAML options given. */
function explainCreate(
  policy: string,
  change: (r: FixtureCreateContainerRequest) => void,
  yaml: ExplainYaml = {},
) {
  return explainRequest({ policy, kind: 'CreateContainerRequest', request: request(change), ...yaml });
}

/** The change that makes the container run `sh` instead of the YAML's command. */
const runSh = (r: FixtureCreateContainerRequest) => {
  r.OCI.Process.Args = ['sh'];
};

/** A denial blamed on the pod-spec `field` at YAML `line` (and whatever else `more` names). */
function expectDeniedAt(
  e: RequestExplanation,
  field: string,
  line: number,
  more: Partial<RequestExplanation> = {},
): void {
  expect(e).toMatchObject({ allowed: false, field, line, ...more });
}

describe('splitPolicyText', () => {
  it('is the inverse of assemblePolicyText; hand-written text is all rules', () => {
    const rules = 'package agent_policy\n\ndefault X := "policy_data := {}"\n';
    const data = { containers: [{ note: 'a\npolicy_data := {"x": 1}' }], common: {} };
    expect(splitPolicyText(assemblePolicyText(rules, data))).toEqual({ rules, data });
    expect(splitPolicyText(rules)).toEqual({ rules, data: undefined });
    expect(splitPolicyText(`${rules}\npolicy_data := [1]`).data).toBeUndefined();
  });
});

describe('explanations', () => {
  it('finds YAML lines of pod-spec fields', () => {
    expect(yamlLineOf(YAML, 'spec.containers[0].command', ['spec', 'template'])).toBe(14);
    expect(yamlLineOf(YAML, 'spec.containers[0].env', ['spec', 'template'])).toBe(16);
  });

  it('allows the matching request and explains denials with field and YAML line', async () => {
    const gen = await generateWeb();
    const ok = explainCreate(gen.annotation.value, () => {}, { yaml: YAML });
    expect(ok).toMatchObject({ allowed: true });

    const args = explainCreate(gen.annotation.value, runSh, { yaml: YAML });
    expect(args.message).toContain('Args');
    expect(args.message).toContain('["sh"]');
    expectDeniedAt(args, 'spec.containers[0].command', 14, { container: 'spec.containers[0]' });

    const env = explainCreate(
      gen.policyText,
      (r) => {
        r.OCI.Process.Env.push('MODE=debug');
      },
      { yaml: YAML },
    );
    expectDeniedAt(env, 'spec.containers[0].env', 16);

    const exec = (args: string[]) =>
      explainRequest({
        policy: gen.policyText,
        kind: 'ExecProcessRequest',
        history: [{ kind: 'CreateContainerRequest', request: request() }],
        request: execProcessRequest(args),
        yaml: YAML,
      });
    expect(exec(['/web', 'health']).allowed).toBe(true);
    const badExec = exec(['sh', '-c', 'cat /secret']);
    expectDeniedAt(badExec, 'spec.containers[0].readinessProbe', 19, { container: 'spec.containers[0]' });
    expect(env.message).toContain('MODE=debug');
  });

  it('maps failures to file lines in multi-document YAML and structures the failing check', async () => {
    const gen = await generateWeb();
    // The workload is the second document, after a 5-line Service: lines shift by 6 (5 + `---`).
    const file = `apiVersion: v1\nkind: Service\nmetadata:\n  name: web\n  namespace: shop\n---\n${YAML}`;
    expect(yamlLineOf(file, 'spec.containers[0].command', ['spec', 'template'], 1)).toBe(20);
    expect(yamlLineOf(file, 'spec.containers[0].command', ['spec', 'template'], 0)).toBeUndefined();
    expect(yamlLineOf(file, 'spec.containers[0].command', ['spec', 'template'], 5)).toBeUndefined();

    const args = explainCreate(gen.annotation.value, runSh, {
      yaml: file,
      document: 1,
      podPath: ['spec', 'template'],
    });
    expectDeniedAt(args, 'spec.containers[0].command', 20);
    expect(args.linePath).toBe('spec.containers[0].command');
    expect(args.failure).toMatchObject({
      rules: ['CreateContainerRequest', 'container_matches', 'process_ok'],
      expression: 'i_process.Args == p_process.Args',
      actual: '["sh"]',
      expected: '["/web"]',
      operator: '==',
    });
    expect(args.failure?.policyLine).toBeGreaterThan(0);
    // Without podPath the template prefix comes from the document's kind.
    expect(explainCreate(gen.policyText, runSh, { yaml: file, document: 1 }).line).toBe(20);

    // A field the YAML does not write: the line is the container's, and the message says so.
    const caps = explainCreate(
      gen.policyText,
      (r) => {
        r.OCI.Process.Capabilities.Bounding = ['CAP_SYS_ADMIN'];
      },
      { yaml: file, document: 1 },
    );
    expectDeniedAt(caps, 'spec.containers[0].securityContext', 18, { linePath: 'spec.containers[0]' });
    expect(caps.message).toContain('which does not set securityContext');
    // Lists that differ: which entries only one side has.
    expect(caps.failure).toMatchObject({
      expression: 'caps_set(i_caps.Bounding) == caps_set(p_caps.Bounding)',
      onlyInRequest: ['CAP_SYS_ADMIN'],
    });
    expect(caps.failure?.onlyInPolicy).toContain('CAP_CHOWN');
    expect(args.failure).toMatchObject({ onlyInRequest: ['sh'], onlyInPolicy: ['/web'] });

    // The env entry that broke the rule is in the context.
    const env = explainCreate(gen.policyText, (r) => {
      r.OCI.Process.Env.push('LD_PRELOAD=/evil.so');
    });
    expect(env.failure?.context.var).toBe('"LD_PRELOAD=/evil.so"');
    expect(env.line).toBeUndefined();
    // "Any of" checks name everything the policy allows there, not just the last candidate.
    expect(env.failure).toMatchObject({
      operator: 'in',
      actual: '"LD_PRELOAD=/evil.so"',
      expected: JSON.stringify(['PATH=/bin', 'HOSTNAME=$(host-name)', 'MODE=prod']),
      onlyInRequest: ['LD_PRELOAD=/evil.so'],
    });
    const other = explainCreate(gen.policyText, (r) => {
      r.OCI.Annotations['io.kubernetes.cri.container-name'] = 'debug';
    });
    expect(other.failure).toMatchObject({ operator: 'in', actual: '"debug"', expected: '["web"]' });
    const mount = explainCreate(gen.policyText, (r) => {
      r.OCI.Mounts = [{ destination: '/host', source: '/', type_: 'bind', options: ['rbind'] }];
    });
    expect(mount.failure).toMatchObject({ operator: 'in', actual: '"/host"' });
    expect(JSON.parse(mount.failure?.expected ?? '[]')).toContain('/etc/hosts');
    // A request string that does not match a policy pattern: the pattern is what the policy wants.
    const pod = explainCreate(gen.policyText, (r) => {
      r.OCI.Annotations['io.kubernetes.cri.sandbox-name'] = 'api-7c56d66754-pq9qp';
    });
    expect(pod.failure).toMatchObject({ operator: 'regex.match', actual: '"api-7c56d66754-pq9qp"' });
    expect(pod.failure?.expected).toMatch(/^"\^web-/);
  });

  it('replays requests in order with one policy instance, like the agent (a policy.jsonl log)', async () => {
    const gen = await generateWeb();
    const exec = (args: string[]) => ({ kind: 'ExecProcessRequest', request: execProcessRequest(args) });
    const results = explainRequests({
      policy: gen.annotation.value,
      requests: [
        exec(['/web', 'health']), // no container yet: denied by the state check
        { kind: 'CreateContainerRequest', request: request() },
        // Kinds outside the normalizer's schema reach the rules as they are (request_defaults).
        { kind: 'StartContainerRequest', request: { container_id: 'c'.repeat(64) } },
        exec(['/web', 'health']),
        exec(['sh']),
        { kind: 'RemoveContainerRequest', request: { container_id: 'c'.repeat(64) } },
        exec(['/web', 'health']),
      ],
      yaml: YAML,
    });
    expect(results.map((r) => [r.kind, r.allowed])).toEqual([
      ['ExecProcessRequest', false],
      ['CreateContainerRequest', true],
      ['StartContainerRequest', true],
      ['ExecProcessRequest', true],
      ['ExecProcessRequest', false],
      ['RemoveContainerRequest', true],
      ['ExecProcessRequest', false],
    ]);
    expectDeniedAt(results[4] as RequestExplanation, 'spec.containers[0].readinessProbe', 19);
    expect(results[4]?.failure).toMatchObject({
      operator: 'in',
      actual: '["sh"]',
      expected: '[["/web","health"]]',
    });
    // The same as explainRequest with the earlier requests as history.
    const single = explainRequest({
      policy: gen.annotation.value,
      kind: 'ExecProcessRequest',
      request: exec(['sh']).request,
      history: [{ kind: 'CreateContainerRequest', request: request() }],
      yaml: YAML,
    });
    expect(single).toEqual(results[4]);
  });
});

describe('the image digest binding of a pinned policy', () => {
  // The YAML's image is pinned (as contrast generate writes it); the policy binds its digest.
  const PINNED = `sha256:${'a'.repeat(64)}`;
  const TAG_ONLY = 'registry.example/shop/web:1.0';
  async function policy(): Promise<string> {
    const gen = await generateWeb();
    expect(gen.policyData.containers[1]?.image).toBe(APP);
    return gen.annotation.value;
  }
  /** The request change that makes the container's image `ref` (annotation and guest-pull source). */
  const withImage = (ref: string) => (r: FixtureCreateContainerRequest) => {
    r.OCI.Annotations['io.kubernetes.cri.image-name'] = ref;
    r.storages[0].source = ref;
  };

  it('allows the pinned digest (with or without the tag, as containerd drops it)', async () => {
    const p = await policy();
    for (const ref of [`${TAG_ONLY}@${PINNED}`, `registry.example/shop/web@${PINNED}`]) {
      expect(explainCreate(p, withImage(ref)).allowed).toBe(true);
    }
  });

  it('denies a tag-only request and says the pod spec image is not pinned', async () => {
    const e = explainCreate(await policy(), withImage(TAG_ONLY), { yaml: YAML });
    expectDeniedAt(e, 'spec.containers[0].image', 13);
    expect(e.failure?.rules).toEqual([
      'CreateContainerRequest',
      'container_matches',
      'image_ok',
      'same_image',
    ]);
    expect(e.failure?.note).toBe(
      `image digest ${PINNED} expected, request has none: the pod spec image is not pinned (the image-name annotation names a tag only; deploy the YAML that contrast generate pinned)`,
    );
    expect(e.message).toContain(`(image digest ${PINNED} expected, request has none`);
  });

  it('denies another digest, also when only the guest-pull storage source differs', async () => {
    const p = await policy();
    const other = `sha256:${'0'.repeat(64)}`;
    const e = explainCreate(p, withImage(`${TAG_ONLY}@${other}`));
    expect(e.allowed).toBe(false);
    expect(e.failure?.note).toBe(
      `image digest ${PINNED} expected, request has ${other}: another image than the one pinned at generate time (the image-name annotation)`,
    );
    const storage = explainCreate(p, (r) => {
      r.storages[0].source = TAG_ONLY;
    });
    expect(storage.allowed).toBe(false);
    expect(storage.failure?.rules).toContain('guest_pull_source_ok');
    expect(storage.failure?.note).toMatch(/request has none: .*the guest-pull storage source/);
  });

  it('a policy generated from a tag-only image binds nothing (which is why generate pins)', async () => {
    const gen = await generateWeb(
      YAML.replace(APP, TAG_ONLY),
      new RecordedImageSource({
        [PAUSE]: await images.resolve(PAUSE),
        [TAG_ONLY]: await images.resolve(APP),
      }),
    );
    const any = explainCreate(gen.annotation.value, withImage(TAG_ONLY.replace('web:1.0', 'web:evil')));
    expect(any.allowed).toBe(true);
  });
});
