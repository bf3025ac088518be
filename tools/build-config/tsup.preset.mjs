// The ONE build preset every package uses. Moving to another bundler is a change to this file only.
import { builtinModules } from 'node:module';
import { defineConfig } from 'tsup';

/** The export condition that points a workspace package at its TypeScript sources. */
const SOURCE_CONDITION = '@contrast-cc/source';

/**
 * @param {{
 *   entry: Record<string, string>,
 *   banner?: string,
 *   external?: string[],
 *   selfContained?: boolean | { forbid?: string[] },
 * }} options
 *   entry: output name (without extension) -> source file, one per `exports` entry (or bin) of the package.
 *   selfContained: bundle everything each entry needs at runtime into dist/ — our workspace packages
 *     (from their sources) and third-party packages alike — so the published package has no
 *     runtime `dependencies` (a CLI run with `npx` starts without installing anything else). Only
 *     Node built-ins stay imports; the build fails if any other import would remain, or if a module
 *     of a `forbid` package (e.g. '@kubernetes/client-node') ends up in the output. Code splitting
 *     stays on: every dynamic `import()` is its own chunk, loaded only when reached.
 */
export function definePackageBuild({ entry, banner, external = [], selfContained = false }) {
  if (selfContained) return defineSelfContainedBuild({ entry, banner, forbid: selfContained.forbid ?? [] });
  return defineConfig({
    ...common(entry, banner),
    // Every dependency stays external: consumers get one copy of each, and our public
    // types never inline a dependency's types.
    skipNodeModulesBundle: true,
    external: [/^@contrast-cc\//, ...external],
  });
}

function common(entry, banner) {
  return {
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
    banner: banner ? { js: banner } : undefined,
  };
}

// CommonJS dependencies inlined into an ES module still call require() for Node built-ins; give
// them one (the names are private so they cannot clash with bundled code).
const REQUIRE_SHIM = [
  "import { createRequire as __contrastCreateRequire } from 'node:module';",
  'const require = __contrastCreateRequire(import.meta.url);',
].join('\n');

const BUILTINS = new Set(builtinModules);
const isBuiltin = (spec) => spec.startsWith('node:') || BUILTINS.has(spec.split('/')[0]);

/** Which package a bundled input path belongs to ('' for the package's own files). */
function packageOfInput(input) {
  const parts = input.split(/[\\/]/);
  const at = parts.lastIndexOf('node_modules');
  if (at < 0) return '';
  const first = parts[at + 1] ?? '';
  return first.startsWith('@') ? `${first}/${parts[at + 2]}` : first;
}

/** Fails the build when the output still imports a non-built-in or contains a forbidden package. */
function selfContainedGuard(forbid) {
  return {
    name: 'contrast-self-contained',
    setup(build) {
      build.onEnd((result) => {
        const meta = result.metafile;
        if (!meta) return;
        const problems = [];
        for (const [file, output] of Object.entries(meta.outputs)) {
          for (const imp of output.imports) {
            if (imp.external && !isBuiltin(imp.path)) {
              problems.push(`${file} imports "${imp.path}" at runtime; it must be bundled`);
            }
          }
        }
        // What ended up in the output (metafile.inputs also lists files parsed, then tree-shaken away).
        const bundled = new Set();
        for (const output of Object.values(meta.outputs)) {
          for (const [input, { bytesInOutput }] of Object.entries(output.inputs)) {
            if (bytesInOutput > 0) bundled.add(packageOfInput(input));
          }
        }
        for (const pkg of forbid) {
          if (bundled.has(pkg))
            problems.push(`${pkg} must not be in this bundle (it is imported by an entry)`);
        }
        if (problems.length > 0) {
          return { errors: problems.map((text) => ({ text: `self-contained build: ${text}` })) };
        }
        return undefined;
      });
    },
  };
}

function defineSelfContainedBuild({ entry, banner, forbid }) {
  return defineConfig({
    ...common(entry, banner ? `${REQUIRE_SHIM}\n${banner}` : REQUIRE_SHIM),
    // Everything is bundled; only Node built-ins stay imports.
    noExternal: [/.*/],
    external: [],
    esbuildOptions(options) {
      // Our workspace packages from their sources, exactly what the tests ran.
      // ('import'/'require' and 'default' apply as usual; 'module' is esbuild's default extra condition.)
      options.conditions = [SOURCE_CONDITION, 'module'];
    },
    esbuildPlugins: [selfContainedGuard(forbid)],
  });
}
