import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { createPlatformRegistry, isContrastError } from '@contrast-cc/core';
import { createFakePlatform } from '@contrast-cc/core/testing';
import { INITDATA_ANNOTATION, LEGACY_POLICY_ANNOTATION } from '@contrast-cc/policy';
import { describe, expect, it } from 'vitest';
import { parseResourceText } from './files.js';
import { extractPolicyDocuments } from './policies.js';

const platform = createFakePlatform();
const registry = createPlatformRegistry([platform]);
const handler = platform.runtime.runtimeClassNames[0]!;
const toml = 'version = "0.1.0"\nalgorithm = "sha256"\n[data]\n"policy.rego" = "package agent_policy"\n';

function deployment(name: string, annotations: Record<string, string>): string {
  return `apiVersion: apps/v1
kind: Deployment
metadata:
  name: ${name}
  namespace: shop
spec:
  selector: { matchLabels: { app: ${name} } }
  template:
    metadata:
      labels: { app: ${name} }
      annotations: ${JSON.stringify(annotations)}
    spec:
      runtimeClassName: ${handler}
      containers:
        - name: ${name}
          image: nginx@sha256:${'1'.repeat(64)}
`;
}

describe('extractPolicyDocuments', () => {
  it('reads initdata and legacy policies back from patched workloads, skipping other objects', () => {
    const initdata = gzipSync(Buffer.from(toml)).toString('base64');
    const legacy = Buffer.from('package agent_policy\n').toString('base64');
    const file = parseResourceText(
      'app.yaml',
      [
        deployment('web', { [INITDATA_ANNOTATION]: initdata }),
        deployment('db', { [LEGACY_POLICY_ANNOTATION]: legacy }),
        'apiVersion: v1\nkind: Service\nmetadata: { name: web }\n',
      ].join('---\n'),
    );
    const docs = extractPolicyDocuments([file], registry);
    expect(docs.map((d) => [d.workload, d.binding])).toEqual([
      ['Deployment/shop/web', 'initdata'],
      ['Deployment/shop/db', 'legacy-policy-annotation'],
    ]);
    expect(new TextDecoder().decode(docs[0]!.document)).toBe(toml);
    expect(docs[0]!.sha256).toBe(createHash('sha256').update(toml).digest('hex'));
    expect(new TextDecoder().decode(docs[1]!.document)).toBe('package agent_policy\n');
    // Where each pod template is, for explanations that point at YAML lines.
    expect(docs.map((d) => [d.kind, d.namespace, d.name, d.documentIndex, d.podPath])).toEqual([
      ['Deployment', 'shop', 'web', 0, ['spec', 'template']],
      ['Deployment', 'shop', 'db', 1, ['spec', 'template']],
    ]);
  });

  it('names file and field when a workload has no policy or a broken one', () => {
    const file = parseResourceText(
      'app.yaml',
      [deployment('web', {}), deployment('db', { [INITDATA_ANNOTATION]: 'bm90IGd6aXA=' })].join('---\n'),
    );
    try {
      extractPolicyDocuments([file], registry);
      expect.unreachable();
    } catch (e) {
      expect(isContrastError(e)).toBe(true);
      const text = (e as { describe(): string }).describe();
      expect(text).toContain('app.yaml');
      expect(text).toContain('documents[0].spec.template.metadata.annotations');
      expect(text).toContain('run "contrast generate" first');
      expect(text).toContain('Deployment/shop/db');
    }
  });
});
