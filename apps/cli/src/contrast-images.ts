import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

/**
 * The Contrast images a build of the CLI injects and deploys (initializer, service-mesh-proxy,
 * coordinator, node installers), each by digest: one place per release.
 * - `CONTRAST_IMAGES=<file>`: the `images.json` that `pnpm --silent images build --push REGISTRY`
 *   wrote (images built from a checkout, e.g. for a test cluster or the container end-to-end run);
 * - otherwise the CLI's own `release-images.json`, which the release writes from the images built
 *   of the same commit before the CLI is built. In the repository it is empty: an unreleased CLI
 *   names no image and the commands that need one refuse and say what to supply;
 * - except offline with recorded image facts (`CONTRAST_IMAGE_FACTS`, e.g. `contrast demo`): then the
 *   Contrast images are those the facts file records (`ghcr.io/contrast-cc/<name>[:<tag>]` entries,
 *   by their recorded pinned reference).
 */
export interface ContrastImages {
  /** Where the references come from, for messages. */
  source: string;
  /** Image name (`initializer`, `service-mesh-proxy`, `coordinator`, …) -> `repo@sha256:…`. */
  references: Record<string, string>;
}

export class ContrastImagesError extends Error {}

const PINNED = /^[^\s@]+(?::[\w.-]+)?@sha256:([0-9a-f]{64})$/;

/** The `references` of an images.json; every value must be pinned by a real (non-zero) digest. */
export function parseContrastImages(text: string, file: string): Record<string, string> {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (error) {
    throw new ContrastImagesError(`${file}: not JSON (${(error as Error).message})`);
  }
  const refs = (data as { references?: unknown } | null)?.references;
  if (typeof refs !== 'object' || refs === null || Array.isArray(refs)) {
    throw new ContrastImagesError(`${file}: references: expected an object of image name -> reference`);
  }
  const out: Record<string, string> = {};
  for (const [name, ref] of Object.entries(refs)) {
    const m = typeof ref === 'string' ? PINNED.exec(ref) : null;
    if (!m)
      throw new ContrastImagesError(
        `${file}: references.${name}: "${String(ref)}" is not pinned (repo@sha256:<64 hex>)`,
      );
    if (/^0+$/.test(m[1] as string)) {
      throw new ContrastImagesError(
        `${file}: references.${name}: the zero digest names no image that exists`,
      );
    }
    out[name] = ref as string;
  }
  return out;
}

/** The images of this CLI: $CONTRAST_IMAGES when set, else the release's embedded list. */
export function contrastImages(env: Record<string, string | undefined>, cwd: string): ContrastImages {
  const file = env.CONTRAST_IMAGES;
  if (file) {
    let text: string;
    try {
      text = readFileSync(path.resolve(cwd, file), 'utf8');
    } catch (error) {
      throw new ContrastImagesError(
        `CONTRAST_IMAGES=${file}: cannot read: ${(error as NodeJS.ErrnoException).code ?? 'error'}`,
      );
    }
    return { source: `CONTRAST_IMAGES=${file}`, references: parseContrastImages(text, file) };
  }
  // Same relative path from src/ and dist/ (like package.json in version.ts).
  const require = createRequire(import.meta.url);
  const embedded = JSON.stringify(require('../release-images.json'));
  const references = parseContrastImages(embedded, 'release-images.json');
  if (Object.keys(references).length === 0 && env.CONTRAST_IMAGE_FACTS) {
    return recordedContrastImages(env.CONTRAST_IMAGE_FACTS, cwd);
  }
  return { source: 'this contrast build', references };
}

/** The Contrast images a recorded image-facts file holds (name -> its recorded pinned reference). */
function recordedContrastImages(file: string, cwd: string): ContrastImages {
  const source = `the recorded image facts CONTRAST_IMAGE_FACTS=${file}`;
  let facts: Record<string, { reference?: unknown }>;
  try {
    facts = JSON.parse(readFileSync(path.resolve(cwd, file), 'utf8'));
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new ContrastImagesError(
      `CONTRAST_IMAGE_FACTS=${file}: ${code ? `cannot read: ${code}` : 'not JSON'}`,
    );
  }
  const references: Record<string, string> = {};
  for (const [key, value] of Object.entries(facts)) {
    const m = /^ghcr\.io\/contrast-cc\/([a-z0-9-]+)(?::[\w.-]+)?$/.exec(key);
    if (m && typeof value?.reference === 'string') references[m[1] as string] = value.reference;
  }
  return { source, references: parseContrastImages(JSON.stringify({ references }), file) };
}

/** The reference of one image, or an error that says what the user must supply. */
export function requireImage(images: ContrastImages, name: string, why: string): string {
  const ref = images.references[name];
  if (ref) return ref;
  throw new ContrastImagesError(
    `${images.source} names no ${name} image (needed ${why}). An unreleased contrast has no image digests: ` +
      'build and push the images (pnpm --silent images build --push <registry>) and set CONTRAST_IMAGES to the ' +
      'images.json it wrote, or use a released contrast.',
  );
}
