// The atomic writer lives in @contrast-cc/core/fs; re-exported for the pipeline's callers.
export { type FileWrite, writeFilesAtomic } from '@contrast-cc/core/fs';
// Kubernetes resource pipeline (issue #6): read YAML, find workloads, inject, rewrite, manifest.
export { ResourceInputError, type ResourceProblem } from './errors.js';
export { loadResourceFiles, parseResourceText, type ResourceFile } from './files.js';
export { ANNOTATIONS as CONTRAST_ANNOTATIONS, type InjectedImages } from './inject.js';
export { checkKataAnnotations, type KataAnnotationFinding } from './kata-annotations.js';
export { type AssembledManifest, type AssembleManifestOptions, assembleManifest } from './manifest.js';
export type { PinnedImage } from './pin.js';
export {
  type PatchedFile,
  type PatchedWorkload,
  type PatchResourcesOptions,
  type PatchResult,
  type PolicyGenerator,
  patchResources,
} from './pipeline.js';
export { extractPolicyDocuments, type WorkloadPolicyDocument } from './policies.js';
export { CONTRAST_RUNTIME_CLASS } from './workloads.js';
export { joinResourceFiles } from './write.js';
