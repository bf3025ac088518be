// The ONE build preset every package uses. Moving to another bundler is a change to this file only.
import { defineConfig } from 'tsup';

/**
 * @param {{ entry: Record<string, string>, banner?: string, external?: string[] }} options
 *   entry: output name (without extension) -> source file, one per `exports` entry of the package.
 */
export function definePackageBuild({ entry, banner, external = [] }) {
  return defineConfig({
    entry,
    format: ['esm'],
    platform: 'node',
    target: 'node20',
    dts: true,
    clean: true,
    sourcemap: true,
    splitting: true,
    treeshake: true,
    outExtension: () => ({ js: '.js', dts: '.d.ts' }),
    // Every dependency stays external: consumers get one copy of each, and our public
    // types never inline a dependency's types.
    skipNodeModulesBundle: true,
    external: [/^@contrast-cc\//, ...external],
    banner: banner ? { js: banner } : undefined,
  });
}
