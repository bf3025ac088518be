/**
 * The policy-generation API (issue #9). The kube pipeline (src/kube) calls {@link generatePolicy}
 * once per pod template.
 *
 * Shape notes (differences from the first sketch in the issue):
 * - `GeneratedPolicy` also carries `policyData` (the JSON embedded in the text), so callers and
 *   explanations can read container policies without parsing Rego.
 * - `rules` and `initdata` (base TOML entries / algorithm) are optional inputs.
 */
import type { Logger } from '@contrast-cc/core';
import { noopLogger } from '@contrast-cc/core';
import {
  assemblePolicyText,
  buildInitdataToml,
  encodeInitdataAnnotation,
  INITDATA_ANNOTATION,
  type InitdataAlgorithm,
  initdataDigest,
  LEGACY_POLICY_ANNOTATION,
  legacyPolicyDigest,
} from './assemble.js';
import { buildPolicyData } from './data/pod.js';
import { DEFAULT_SETTINGS } from './rules/default-settings.js';
import { RULES_REGO } from './rules/rules.js';
import type { PolicySettings } from './settings.js';
import type { ConfigInput, GeneratedPolicy, ImageSource, PodSpecInput, PolicyBinding } from './types.js';

export interface GeneratePolicyInput {
  /** The pod template: metadata (name, namespace, labels, annotations) + spec. */
  pod: PodSpecInput;
  /** The workload kind, e.g. `Pod`, `Deployment`. Decides the sandbox-name pattern. */
  kind: string;
  images: ImageSource;
  /** genpolicy-settings.json-shaped settings (drop-ins already applied). Default: ours. */
  settings?: PolicySettings;
  configMaps?: ConfigInput[];
  secrets?: ConfigInput[];
  binding: PolicyBinding;
  /** Rules text; default: our rules (`RULES_REGO`). */
  rules?: string;
  /** Containers that must be created and started before the others (see `PolicyDataInput`). */
  startFirst?: readonly string[];
  /** Require the env variables the spec sets to be present (default true; see `PolicyDataInput`). */
  specEnvPresence?: boolean;
  /** Extra initdata entries and algorithm (initdata binding only). */
  initdata?: { algorithm?: InitdataAlgorithm; data?: Record<string, string> };
  logger?: Logger;
}

export async function generatePolicy(input: GeneratePolicyInput): Promise<GeneratedPolicy> {
  const logger = input.logger ?? noopLogger;
  const settings = input.settings ?? DEFAULT_SETTINGS;
  const policyData = await buildPolicyData({
    pod: input.pod,
    kind: input.kind,
    images: input.images,
    settings,
    configMaps: input.configMaps,
    secrets: input.secrets,
    startFirst: input.startFirst,
    specEnvPresence: input.specEnvPresence,
  });
  const policyText = assemblePolicyText(input.rules ?? RULES_REGO, policyData);
  logger.debug('generated policy', {
    kind: input.kind,
    name: input.pod.metadata?.name ?? input.pod.metadata?.generateName,
    containers: policyData.containers.length,
  });
  if (input.binding === 'legacy-policy-annotation') {
    return {
      policyText,
      policyData,
      annotation: {
        key: LEGACY_POLICY_ANNOTATION,
        value: Buffer.from(policyText, 'utf8').toString('base64'),
      },
      digest: legacyPolicyDigest(policyText),
    };
  }
  const toml = buildInitdataToml(
    { ...(input.initdata?.data ?? {}), 'policy.rego': policyText },
    { algorithm: input.initdata?.algorithm ?? 'sha256' },
  );
  return {
    policyText,
    policyData,
    annotation: { key: INITDATA_ANNOTATION, value: encodeInitdataAnnotation(toml) },
    digest: initdataDigest(toml),
    initdata: toml,
  };
}
