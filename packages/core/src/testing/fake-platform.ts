import type { KubeObject } from '../kube.js';
import { definePlatform, type Platform, type PlatformSpec, runtimeClassName } from '../platform.js';
import { createPlatformRegistry, type PlatformRegistry } from '../registry.js';
import { FAKE_EVIDENCE_KIND, FakeIssuer, type FakeReferenceValues, FakeVerifier } from './fake-evidence.js';

const FAKE_RUNTIME_HASH = 'fa4efa4e0123456789abcdef0123456789abcdef0123456789abcdef01234567';

/**
 * A complete, valid platform backed by the fake issuer and verifier. Override any part to
 * build the platform under test (or a deliberately broken one).
 * @public
 */
export function createFakePlatform(overrides: Partial<PlatformSpec> = {}): Platform {
  const id = overrides.id ?? 'Fake-Platform';
  const handler = runtimeClassName(id, FAKE_RUNTIME_HASH);
  const spec: PlatformSpec = {
    id,
    aliases: ['fake'],
    displayName: 'Fake platform (tests only)',
    insecure: true,
    runtime: {
      runtimeClassNames: [handler],
      runtimeClasses: (): KubeObject[] => [
        {
          apiVersion: 'node.k8s.io/v1',
          kind: 'RuntimeClass',
          metadata: { name: handler },
          handler,
          overhead: { podFixed: { memory: '256Mi', cpu: '250m' } },
          scheduling: { nodeSelector: { 'contrast.example/fake': 'true' } },
        },
      ],
      nodeInstaller: ({ namespace, image }): KubeObject[] => [
        {
          apiVersion: 'apps/v1',
          kind: 'DaemonSet',
          metadata: { name: `${handler}-installer`, namespace },
          spec: {
            selector: { matchLabels: { app: 'fake-installer' } },
            template: {
              metadata: { labels: { app: 'fake-installer' } },
              spec: {
                containers: [
                  {
                    name: 'installer',
                    // sha256 of "fake-installer": a fake, but never an all-zero placeholder
                    image:
                      image ??
                      'registry.invalid/fake-installer@sha256:8ba67ba3cb224a45d37bbb154795ce4c8e9a9c377ae0c5734c4cb1e567f7ecfe',
                  },
                ],
              },
            },
          },
        },
      ],
      podOverhead: { memory: '256Mi', cpu: '250m' },
    },
    attestation: {
      tee: 'snp',
      evidenceKinds: [FAKE_EVIDENCE_KIND],
      defaultReferenceValues: () => [{ measurement: '00'.repeat(48) }],
      createVerifier: ({ referenceValues }) => new FakeVerifier(referenceValues as FakeReferenceValues),
      createIssuer: () => new FakeIssuer(),
      policyBinding: 'initdata',
    },
    policy: { settingsPatch: {}, guestPull: false },
    ...overrides,
  };
  return definePlatform(spec);
}

/** A registry holding the given platforms, or one fake platform. @public */
export function createTestRegistry(
  platforms: readonly Platform[] = [createFakePlatform()],
): PlatformRegistry {
  return createPlatformRegistry(platforms);
}
