/**
 * Public types of the policy generator. The resource pipeline (@contrast-cc/kube-resources) and
 * the CLI build on these. The image facts contract lives in @contrast-cc/core (the registry
 * client in @contrast-cc/oci implements it without depending on the policy).
 */

export type { ImageConfig, ImageFacts, ImageSource } from '@contrast-cc/core';

/** A Kubernetes pod template: metadata + spec, as plain objects (already parsed YAML). */
export interface PodSpecInput {
  metadata?: {
    name?: string;
    generateName?: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  spec: Record<string, unknown>;
}

/** A ConfigMap or Secret given as input (for env valueFrom, envFrom and volumes). */
export interface ConfigInput {
  metadata: { name: string; namespace?: string };
  data?: Record<string, string>;
  /** Secrets: base64-encoded values. */
  binaryData?: Record<string, string>;
  stringData?: Record<string, string>;
}

/** How the policy is bound to the TEE. */
export type PolicyBinding = 'initdata' | 'legacy-policy-annotation';

/** The result of policy generation for one pod template. */
export interface GeneratedPolicy {
  /** The full Rego text: rules + `\npolicy_data := ` + JSON. */
  policyText: string;
  /** The annotation to put into the pod template's metadata. */
  annotation: { key: string; value: string };
  /** Hex digest the TEE binds (HOST_DATA / MRCONFIGID before padding). */
  digest: string;
  /** The initdata TOML (only for the `initdata` binding). */
  initdata?: string;
  /** The policy data document, as embedded in the text. */
  policyData: PolicyData;
}

/** The `policy_data` document. Key order is the serialized order. */
export interface PolicyData {
  containers: ContainerPolicy[];
  common: Record<string, unknown>;
  sandbox: Record<string, unknown>;
  request_defaults: Record<string, unknown>;
  devices: Record<string, unknown>;
  cluster_config: Record<string, unknown>;
}

export interface ContainerPolicy {
  OCI: Record<string, unknown>;
  /** Regexes for env entries only known at run time (downward API values). */
  env_regex: string[];
  storages: Record<string, unknown>[];
  devices: Record<string, unknown>[];
  sandbox_pidns: boolean;
  exec_commands: string[][];
  /** Number of pass-through GPUs (VFIO) the container requests. */
  gpus: number;
  /** The image reference as written in the pod (Contrast's digest binding compares the `@` part). */
  image: string;
  /** Where this container came from in the pod spec, e.g. `spec.containers[0]` (for explanations). */
  source_path: string;
  /**
   * Names of containers that must have been created and started in this sandbox before this one
   * may be created (the injected initializer and service-mesh sidecar); absent: none.
   */
  required_started?: string[];
  /** Names of the env variables the pod spec sets (env, envFrom): each must be in the request. */
  env_required?: string[];
}
