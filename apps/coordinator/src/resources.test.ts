import { describe, expect, it } from 'vitest';
import { CoordinatorConfigSchema } from './config.js';
import { coordinatorResources } from './resources.js';
import { golden } from './test-support/golden.js';

// biome-ignore lint/suspicious/noExplicitAny: generated Kubernetes objects are walked as plain JSON
type Json = any;

const IMAGE = `ghcr.io/contrast-cc/coordinator@sha256:${'1'.repeat(64)}`;

describe('coordinatorResources', () => {
  it('matches the golden file', () => {
    const text = `${JSON.stringify(coordinatorResources({ namespace: 'contrast-system', image: IMAGE }), null, 2)}\n`;
    expect(text).toBe(golden('coordinator.json', text));
  });

  it('wires probes, ports and Services consistently with the Coordinator defaults', () => {
    const objs = coordinatorResources({ image: IMAGE });
    const defaults = CoordinatorConfigSchema.parse({});
    const sts = objs.find((o) => o.kind === 'StatefulSet') as Json;
    const c = sts.spec.template.spec.containers[0];
    expect(c.ports.map((p: Json) => p.containerPort)).toEqual([
      defaults.CONTRAST_API_PORT,
      defaults.CONTRAST_METRICS_PORT,
      defaults.CONTRAST_TRANSIT_PORT,
    ]);
    expect(c.readinessProbe.httpGet).toEqual({
      path: '/probe/readiness',
      port: defaults.CONTRAST_METRICS_PORT,
    });
    expect(sts.spec.template.spec.serviceAccountName).toBe('coordinator');
    const services = objs.filter((o) => o.kind === 'Service') as Json[];
    expect(services.map((s) => s.metadata.name)).toEqual(['coordinator', 'coordinator-ready']);
    expect(services[0].spec.publishNotReadyAddresses).toBe(true);
    expect(services[1].spec.publishNotReadyAddresses).toBeUndefined();
    // The transit API only in-cluster, on the Service of ready replicas.
    expect(services[0].spec.ports.map((p: Json) => p.name)).toEqual(['api']);
    expect(services[1].spec.ports.map((p: Json) => [p.name, p.port])).toEqual([
      ['api', defaults.CONTRAST_API_PORT],
      ['transit', defaults.CONTRAST_TRANSIT_PORT],
    ]);
    for (const s of services) expect(s.spec.selector).toEqual(sts.spec.selector.matchLabels);
    const role = objs.find((o) => o.kind === 'Role') as Json;
    // What the ConfigMap store does: get, list + watch (label selector), create, update (CAS).
    expect(role.rules[0].verbs).toEqual(expect.arrayContaining(['get', 'list', 'watch', 'create', 'update']));
    expect(objs.every((o) => o.metadata.namespace === undefined)).toBe(true);
  });

  it('refuses bad options naming the field', () => {
    expect(() => coordinatorResources({ image: 'has space' })).toThrow(
      expect.objectContaining({ field: 'image' }),
    );
    expect(() => coordinatorResources({ image: IMAGE, namespace: 'Bad_NS' })).toThrow(
      expect.objectContaining({ field: 'namespace' }),
    );
    expect(() => coordinatorResources({ image: IMAGE, replicas: 0 })).toThrow(
      expect.objectContaining({ field: 'replicas' }),
    );
  });
});
