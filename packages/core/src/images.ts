/**
 * The image facts contract: what a container image contributes to a policy, and the interface
 * that resolves a reference to them. The policy generator consumes it (@contrast-cc/policy), the
 * OCI registry client (@contrast-cc/oci) and recorded facts implement it.
 */

/** What an image contributes to a container's policy. */
export interface ImageFacts {
  /** The reference pinned by digest, e.g. `registry.k8s.io/pause:3.6@sha256:…`. */
  reference: string;
  /** The manifest digest, `sha256:<hex>`. */
  digest: string;
  /** The image config's `config` section (the fields genpolicy uses). */
  config: ImageConfig;
  /** The effective `/etc/passwd` of the image (all layers applied), if it was needed and exists. */
  passwd?: string;
  /** The effective `/etc/group` of the image, if it was needed and exists. */
  group?: string;
}

/** The image config fields the policy uses (OCI image config `config` object). */
export interface ImageConfig {
  Env?: string[];
  Entrypoint?: string[];
  Cmd?: string[];
  WorkingDir?: string;
  User?: string;
  /** Declared image volumes, as in the OCI config (`{"/data": {}}`). */
  Volumes?: Record<string, unknown>;
}

/** Resolves an image reference (as written in the pod spec) to its facts. */
export interface ImageSource {
  /**
   * `users: true` asks for /etc/passwd and /etc/group even when the image `User` is numeric
   * (e.g. to find the primary group of a `runAsUser`). Sources may return them anyway.
   */
  resolve(ref: string, options?: { users?: boolean }): Promise<ImageFacts>;
}
