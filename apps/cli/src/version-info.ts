// `contrast --version`: the version, the container images this build deploys and, per platform,
// the runtime handler and the reference values it puts into a new manifest (as upstream's
// --version), so an operator can check a deployment against the CLI that made it.
import type { Platform } from '@contrast-cc/core';
import { ContrastImagesError, contrastImages } from './contrast-images.js';
import type { CliIo } from './io.js';
import { cliPlatformRegistry } from './platforms.js';
import { cliVersion } from './version.js';

export interface VersionInfo {
  version: string;
  images: { source: string; references: Record<string, string> } | { error: string };
  platforms: {
    id: string;
    insecure: boolean;
    runtimeHandlers: string[] | { unknown: string };
    referenceValues: unknown[] | { unknown: string };
  }[];
}

function settle<T>(f: () => T): T | { unknown: string } {
  try {
    return f();
  } catch (error) {
    return { unknown: error instanceof Error ? error.message : String(error) };
  }
}

export function versionInfo(io: Pick<CliIo, 'env' | 'cwd'>): VersionInfo {
  let images: VersionInfo['images'];
  try {
    images = contrastImages(io.env, io.cwd);
  } catch (error) {
    if (!(error instanceof ContrastImagesError)) throw error;
    images = { error: error.message };
  }
  const registry = cliPlatformRegistry(
    io.env.CONTRAST_SIMULATOR_DIR ? { simulatorDir: io.env.CONTRAST_SIMULATOR_DIR } : {},
  );
  return {
    version: cliVersion(),
    images,
    platforms: registry.list().map((p: Platform) => ({
      id: p.id,
      insecure: p.insecure,
      // A bare-metal runtime is only known with its assets: the handler names its hash.
      runtimeHandlers: settle(() => {
        p.runtime.runtimeClasses();
        return [...p.runtime.runtimeClassNames];
      }),
      referenceValues: settle(() => p.attestation.defaultReferenceValues()),
    })),
  };
}

export function formatVersionInfo(info: VersionInfo): string {
  const lines = [`contrast ${info.version}`, ''];
  if ('error' in info.images) {
    lines.push(`container images: ${info.images.error}`);
  } else {
    const refs = Object.entries(info.images.references);
    lines.push(`container images (${info.images.source}):`);
    if (refs.length === 0) {
      lines.push(
        '  none: an unreleased build names no image; generate takes CONTRAST_IMAGES=<images.json> ("pnpm --silent images build --push <registry>")',
      );
    }
    const width = Math.max(0, ...refs.map(([n]) => n.length));
    for (const [name, ref] of refs) lines.push(`  ${name.padEnd(width)}  ${ref}`);
  }
  lines.push('', 'platforms (runtime handler; reference values a new manifest gets):');
  for (const p of info.platforms) {
    lines.push(`  ${p.id}${p.insecure ? ' (INSECURE: simulated, for tests and the demo)' : ''}`);
    lines.push(
      Array.isArray(p.runtimeHandlers)
        ? `    runtime handler: ${p.runtimeHandlers.join(', ')}`
        : `    runtime handler: not known: ${p.runtimeHandlers.unknown}`,
    );
    if (Array.isArray(p.referenceValues)) {
      for (const rv of p.referenceValues) lines.push(`    reference values: ${JSON.stringify(rv)}`);
    } else {
      lines.push(`    reference values: not known: ${p.referenceValues.unknown}`);
    }
  }
  return `${lines.join('\n')}\n`;
}
