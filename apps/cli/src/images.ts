import path from 'node:path';
import { RegistryImageSource } from '@contrast-cc/oci';
import { type ImageFacts, type ImageSource, loadRecordedImages } from '@contrast-cc/policy';
import type { CliIo } from './io.js';
import { userCacheDir } from './util.js';

/**
 * Where `generate` gets image facts: by default the images' registries (credentials from
 * $DOCKER_CONFIG or ~/.docker/config.json; /etc layer facts cached in `layers/` of the user cache
 * directory: $CONTRAST_CACHE_DIR, else the platform's, see {@link userCacheDir}); with
 * $CONTRAST_IMAGE_FACTS=<file.json>, recorded facts only (offline: no registry is contacted, an
 * image missing from the file is an error).
 */
export function cliImageSource(io: CliIo): ImageSource {
  const recorded = io.env.CONTRAST_IMAGE_FACTS;
  if (recorded) {
    let loading: Promise<ImageSource> | undefined;
    return {
      resolve: async (ref: string): Promise<ImageFacts> => {
        loading ??= loadRecordedImages(path.resolve(io.cwd, recorded));
        return (await loading).resolve(ref);
      },
    };
  }
  const options = {
    cacheDir: path.join(userCacheDir(io), 'layers'),
    ...(io.env.DOCKER_CONFIG ? { dockerConfigDir: io.env.DOCKER_CONFIG } : {}),
  };
  const registry = new RegistryImageSource(options);
  // A registry on a loopback address (127.0.0.0/8, localhost, [::1]) is spoken to over plain HTTP,
  // as Docker does: e.g. the one `pnpm images build --push 127.0.0.1:5000/…` filled for a test.
  const loopback = new Map<string, ImageSource>();
  return {
    resolve: (ref: string): Promise<ImageFacts> => {
      const host = loopbackRegistry(ref);
      if (host === undefined) return registry.resolve(ref);
      const source: ImageSource =
        loopback.get(host) ?? new RegistryImageSource({ ...options, insecureRegistries: [host] });
      loopback.set(host, source);
      return source.resolve(ref);
    },
  };
}

/** The registry host of `ref` when it is a loopback address (with its port), else undefined. */
export function loopbackRegistry(ref: string): string | undefined {
  const slash = ref.indexOf('/');
  if (slash <= 0) return undefined;
  const host = ref.slice(0, slash);
  return /^(127\.\d{1,3}\.\d{1,3}\.\d{1,3}|localhost|\[::1\])(:\d{1,5})?$/.test(host) ? host : undefined;
}
