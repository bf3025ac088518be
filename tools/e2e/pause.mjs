// The pod sandbox image of the container end-to-end run. A Kata pod's policy pins the pause
// image's facts (genpolicy's cluster_config.pause_container_image); no public registry is
// reachable here, so the run builds one, pushes it to its registry with the others, names it in
// the settings it gives `contrast generate`, and runs it as every pod's infra container. It is
// Debian's statically linked catatonit (podman's own pause process) as /pause, in pause mode,
// uid 65535 as Kubernetes' pause image: one layer, written like our other images (tools/images).
import { readFileSync } from 'node:fs';
import { EPOCH } from '../images/build.mjs';
import { jsonBytes, MEDIA, OciLayout, writeTar } from '../images/oci.mjs';

export const CATATONIT = process.env.CATATONIT ?? '/usr/bin/catatonit';
/** The pause process: catatonit in pause mode (podman runs an infra image's entrypoint). */
export const PAUSE_COMMAND = ['/pause', '-P'];

/** Builds the pause image into the OCI layout `layoutDir`, tagged `name`; returns { name, digest }. */
export function buildPauseImage(layoutDir, name = 'pause') {
  const layout = new OciLayout(layoutDir);
  const layer = layout.put(
    MEDIA.layer,
    writeTar([{ path: 'pause', type: 'file', data: readFileSync(CATATONIT), executable: true }]),
  );
  const config = layout.put(
    MEDIA.config,
    jsonBytes({
      created: EPOCH,
      architecture: 'amd64',
      os: 'linux',
      config: {
        User: '65535:65535',
        Entrypoint: PAUSE_COMMAND,
        Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'],
      },
      rootfs: { type: 'layers', diff_ids: [layer.digest] },
      history: [{ created: EPOCH, created_by: `catatonit (${CATATONIT}) as /pause` }],
    }),
  );
  const manifest = layout.put(
    MEDIA.manifest,
    jsonBytes({
      schemaVersion: 2,
      mediaType: MEDIA.manifest,
      config,
      layers: [layer],
      annotations: { 'org.opencontainers.image.title': name },
    }),
  );
  layout.tag(name, manifest);
  return { name, digest: manifest.digest };
}
