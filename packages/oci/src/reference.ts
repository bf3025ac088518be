import { ContrastError } from '@contrast-cc/core';

/** A parsed image reference. */
export interface ImageReference {
  /** Registry host as written (docker.io when omitted). */
  registry: string;
  /** Repository path, e.g. `library/nginx`. */
  repository: string;
  tag: string | undefined;
  digest: string | undefined;
}

const DIGEST_RE = /^sha256:[a-f0-9]{64}$/;

/** Parses `[host[:port]/]path[:tag][@sha256:hex]` with Docker's defaults. */
export function parseImageReference(ref: string): ImageReference {
  const field = 'image';
  if (!ref || /\s/.test(ref))
    throw new ContrastError('invalid-argument', `bad image reference ${JSON.stringify(ref)}`, { field });
  let rest = ref;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST_RE.test(digest)) {
      throw new ContrastError(
        'invalid-argument',
        `image digest must be sha256:<64 hex>, got ${JSON.stringify(digest)}`,
        {
          field,
        },
      );
    }
  }
  let tag: string | undefined;
  const lastSlash = rest.lastIndexOf('/');
  const colon = rest.lastIndexOf(':');
  if (colon > lastSlash) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!/^[\w][\w.-]{0,127}$/.test(tag))
      throw new ContrastError('invalid-argument', `bad image tag ${JSON.stringify(tag)}`, { field });
  }
  const parts = rest.split('/');
  let registry = 'docker.io';
  const first = parts[0] as string;
  if (parts.length > 1 && (first.includes('.') || first.includes(':') || first === 'localhost')) {
    registry = first;
    parts.shift();
  }
  if (registry === 'docker.io' && parts.length === 1) parts.unshift('library');
  const repository = parts.join('/');
  if (
    !/^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/.test(repository)
  ) {
    throw new ContrastError('invalid-argument', `bad repository name ${JSON.stringify(repository)}`, {
      field,
    });
  }
  if (tag === undefined && digest === undefined) tag = 'latest';
  return { registry, repository, tag, digest };
}

/** `registry/repository[:tag]@digest`. */
export function pinnedReference(ref: ImageReference, digest: string): string {
  return `${ref.registry}/${ref.repository}${ref.tag ? `:${ref.tag}` : ''}@${digest}`;
}
