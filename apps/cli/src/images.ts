import os from 'node:os';
import path from 'node:path';
import {
  type ImageFacts,
  type ImageSource,
  loadRecordedImages,
  RegistryImageSource,
} from '@contrast-cc/policy';
import type { CliIo } from './io.js';

/**
 * Where `generate` gets image facts: by default the images' registries (credentials from
 * $DOCKER_CONFIG or ~/.docker/config.json; /etc layers cached in $CONTRAST_CACHE_DIR or
 * ~/.cache/contrast); with $CONTRAST_IMAGE_FACTS=<file.json>, recorded facts only (offline: no
 * registry is contacted, an image missing from the file is an error).
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
  const cacheRoot =
    io.env.CONTRAST_CACHE_DIR ??
    path.join(io.env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache'), 'contrast');
  return new RegistryImageSource({
    cacheDir: path.join(cacheRoot, 'layers'),
    ...(io.env.DOCKER_CONFIG ? { dockerConfigDir: io.env.DOCKER_CONFIG } : {}),
  });
}
