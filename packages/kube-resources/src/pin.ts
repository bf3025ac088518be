import { parseImageReference } from '@contrast-cc/oci';
import type { ImageFacts, ImageSource } from '@contrast-cc/policy';
import { type Document, isSeq } from 'yaml';
import { formatKubePath, type ResourceProblem } from './errors.js';
import type { WorkloadRef } from './workloads.js';

/** The pod-spec lists whose `image` fields are pinned (ephemeral containers too). */
const CONTAINER_LISTS = ['initContainers', 'containers', 'ephemeralContainers'] as const;

const DIGEST_RE = /^sha256:[a-f0-9]{64}$/;

/** One container image that `generate` pinned by digest (the YAML named it by tag only). */
export interface PinnedImage {
  file: string;
  /** Where the image is, e.g. `documents[0].spec.template.spec.containers[0].image`. */
  field: string;
  /** `Deployment shop/api`. */
  workload: string;
  container: string;
  /** The reference as it was written (tag only). */
  image: string;
  /** The reference now in the YAML and in the policy: `<image>@sha256:<hex>`. */
  reference: string;
  digest: string;
}

/**
 * Resolves each reference once per run and remembers the facts of every reference it pinned
 * under the pinned name too, so policy generation does not fetch the same manifest again.
 */
export class MemoImageSource implements ImageSource {
  readonly #inner: ImageSource;
  readonly #memo = new Map<string, Promise<ImageFacts>>();

  constructor(inner: ImageSource) {
    this.#inner = inner;
  }

  resolve(ref: string, options?: { users?: boolean }): Promise<ImageFacts> {
    const key = `${options?.users === true ? 'users' : 'config'} ${ref}`;
    let p = this.#memo.get(key);
    if (!p) {
      p = this.#inner.resolve(ref, options);
      this.#memo.set(key, p);
      p.catch(() => this.#memo.delete(key));
    }
    return p.then((f) => structuredClone(f));
  }

  /** `reference` (pinned by `facts.digest`) names the same image as the facts describe. */
  remember(reference: string, facts: ImageFacts): void {
    this.#memo.set(`config ${reference}`, Promise.resolve({ ...facts, reference }));
  }
}

interface Occurrence {
  w: WorkloadRef;
  doc: Document;
  path: (string | number)[];
  field: string;
  container: string;
  image: string;
  digest: string | undefined;
}

/** The image the same-named container had in the input (before injection), if any. */
function originalImage(o: Occurrence): unknown {
  let spec: unknown = o.w.object;
  for (const k of [...o.w.podPath.slice(o.w.objectPath.length), 'spec']) {
    spec = (spec as Record<string | number, unknown> | null | undefined)?.[k];
  }
  const list = o.path[o.path.length - 3] as string;
  const items = (spec as Record<string, unknown> | null | undefined)?.[list];
  if (!Array.isArray(items)) return undefined;
  return (
    items.find((c) => (c as { name?: unknown } | null)?.name === o.container) as
      | { image?: unknown }
      | undefined
  )?.image;
}

function workloadName(w: WorkloadRef): string {
  return `${w.kind} ${w.namespace}/${w.name}`;
}

/** Runs `fn` over `items` with at most `limit` calls in flight. */
async function eachLimited<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>) {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const item = items[next++] as T;
      await fn(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

/**
 * Pins every container image of the workloads (after injection) by the digest the image source
 * resolves its tag to: `repo:tag` becomes `repo:tag@sha256:<hex>` in the YAML document (the
 * policy then carries the same reference). An image that already has a digest keeps it; when the
 * source resolves it to another digest that is a problem naming file, field and container.
 * Problems are collected for all workloads; nothing is changed in a document with a problem
 * unless the caller goes on (the caller throws before anything is written).
 */
export async function pinWorkloadImages(
  prepared: ReadonlyArray<{ w: WorkloadRef; doc: Document }>,
  images: MemoImageSource,
): Promise<{
  pins: PinnedImage[];
  problems: ResourceProblem[];
  /** Some image could not be read (an operational failure rather than bad input). */
  unavailable: boolean;
}> {
  const problems: ResourceProblem[] = [];
  const found: Occurrence[] = [];
  for (const { w, doc } of prepared) {
    const specPath = [...w.podPath, 'spec'];
    for (const list of CONTAINER_LISTS) {
      const seq = doc.getIn([...specPath, list], true);
      if (!isSeq(seq)) continue;
      seq.items.forEach((_, i) => {
        const path = [...specPath, list, i, 'image'];
        const image = doc.getIn(path);
        if (typeof image !== 'string') return;
        const name = doc.getIn([...specPath, list, i, 'name']);
        const occurrence: Occurrence = {
          w,
          doc,
          path,
          field: formatKubePath(['documents', w.documentIndex, ...path]),
          container: typeof name === 'string' ? name : `#${i}`,
          image,
          digest: undefined,
        };
        try {
          occurrence.digest = parseImageReference(image).digest;
        } catch (error) {
          problems.push({
            file: w.file.path,
            field: occurrence.field,
            message: `container ${JSON.stringify(occurrence.container)} (${workloadName(w)}): ${(error as Error).message}`,
          });
          return;
        }
        found.push(occurrence);
      });
    }
  }

  const facts = new Map<string, ImageFacts | Error>();
  const refs = [...new Set(found.map((o) => o.image))];
  await eachLimited(refs, 4, async (ref) => {
    try {
      facts.set(ref, await images.resolve(ref));
    } catch (error) {
      facts.set(ref, error instanceof Error ? error : new Error(String(error)));
    }
  });

  let unavailable = false;
  const pins: PinnedImage[] = [];
  for (const o of found) {
    const where = `container ${JSON.stringify(o.container)} (${workloadName(o.w)})`;
    const f = facts.get(o.image);
    if (f instanceof Error || f === undefined) {
      const message = f instanceof Error ? f.message : 'not resolved';
      unavailable = true;
      problems.push({
        file: o.w.file.path,
        field: o.field,
        message: `${where}: cannot resolve image ${o.image}: ${message}`,
      });
      continue;
    }
    if (!DIGEST_RE.test(f.digest)) {
      unavailable = true;
      problems.push({
        file: o.w.file.path,
        field: o.field,
        message: `${where}: the image source gave no sha256 digest for ${o.image} (got ${JSON.stringify(f.digest)})`,
      });
      continue;
    }
    if (o.digest !== undefined) {
      if (f.digest !== o.digest) {
        problems.push({
          file: o.w.file.path,
          field: o.field,
          message: `${where}: the YAML pins ${o.digest}, but ${o.image.slice(0, o.image.indexOf('@'))} resolves to ${f.digest}`,
        });
      }
      continue;
    }
    const reference = `${o.image}@${f.digest}`;
    o.doc.setIn(o.path, reference);
    images.remember(reference, f);
    // A re-injected container (initializer, mesh) that was pinned like this before is not news.
    if (originalImage(o) === reference) continue;
    pins.push({
      file: o.w.file.path,
      field: o.field,
      workload: workloadName(o.w),
      container: o.container,
      image: o.image,
      reference,
      digest: f.digest,
    });
  }
  return { pins, problems, unavailable };
}
