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
  return new RegistryImageSource({
    cacheDir: path.join(userCacheDir(io), 'layers'),
    ...(io.env.DOCKER_CONFIG ? { dockerConfigDir: io.env.DOCKER_CONFIG } : {}),
  });
}
