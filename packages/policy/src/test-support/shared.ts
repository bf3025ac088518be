import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
/** The repo root (packages/policy/src/test-support -> ../../../..). */
export const REPO_ROOT = path.resolve(here, '../../../..');
/** The shared research directory: CONTRAST_SHARED_DIR or <repo>/../shared. */
export const SHARED_DIR = process.env.CONTRAST_SHARED_DIR ?? path.resolve(REPO_ROOT, '../shared');
export const KATA_POLICY_DIR = path.join(SHARED_DIR, 'conformance', 'kata-policy');
export const HAS_KATA_POLICY = existsSync(path.join(KATA_POLICY_DIR, 'index.json'));
export const CONFORMANCE_FIXTURE = path.resolve(here, '../images/__fixtures__/conformance-images.json');
