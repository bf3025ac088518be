// The ONE build preset every package uses. Moving to another bundler is a change to this file only.
import { builtinModules } from 'node:module';
import path from 'node:path';
import { defineConfig } from 'tsup';

/** The export condition that points a workspace package at its TypeScript sources. */
const SOURCE_CONDITION = '@contrast-cc/source';

/**
 * @param {{
 *   entry: Record<string, string>,
 *   banner?: string,
 *   external?: string[],
 *   selfContained?: boolean | { forbid?: string[], lazy?: string[], absent?: string[] },
 * }} options
 *   entry: output name (without extension) -> source file, one per `exports` entry (or bin) of the package.
 *   selfContained: bundle everything each entry needs at runtime into dist/ — our workspace packages
 *     (from their sources) and third-party packages alike — so the published package has no
 *     runtime `dependencies` (a CLI run with `npx` starts without installing anything else). Only
 *     Node built-ins stay imports; the build fails if any other import would remain, or if a module
 *     of a `forbid` package ends up in the output. Code splitting stays on: every dynamic `import()`
 *     is its own chunk, loaded only when reached. `lazy` packages (e.g. '@kubernetes/client-node')
 *     may only be in such chunks: the build fails when an entry imports one statically, so they
 *     never cost the start of the bin. `absent` names optional packages a dependency requires
 *     inside try/catch (ws's 'bufferutil'): they are left out, and requiring them throws
 *     MODULE_NOT_FOUND as when they are not installed, so the dependency takes its fallback.
 */
export function definePackageBuild({ entry, banner, external = [], selfContained = false }) {
  if (selfContained) {
    return defineSelfContainedBuild({
      entry,
      banner,
      forbid: selfContained.forbid ?? [],
      lazy: selfContained.lazy ?? [],
      absent: selfContained.absent ?? [],
    });
  }
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

/**
 * The outputs an entry loads statically: the entries' outputs and what they import, transitively
 * (esbuild also gives each dynamic import()'s chunk an entryPoint: only the configured ones count).
 */
function eagerOutputs(outputs, entryFiles) {
  const entries = new Set(entryFiles.map((f) => path.resolve(f)));
  const eager = new Set(
    Object.keys(outputs).filter((file) => {
      const from = outputs[file].entryPoint;
      return from !== undefined && entries.has(path.resolve(from));
    }),
  );
  const queue = [...eager];
  while (queue.length > 0) {
    const file = queue.pop();
    for (const imp of outputs[file]?.imports ?? []) {
      if (imp.external || imp.kind !== 'import-statement' || eager.has(imp.path)) continue;
      eager.add(imp.path);
      queue.push(imp.path);
    }
  }
  return eager;
}

/** Resolves the `absent` packages to a module that throws MODULE_NOT_FOUND when required. */
function absentPackages(names) {
  const escapeRegExp = (n) => n.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  return {
    name: 'contrast-absent',
    setup(build) {
      if (names.length === 0) return;
      const filter = new RegExp(`^(?:${names.map(escapeRegExp).join('|')})$`);
      build.onResolve({ filter }, (args) => ({ path: args.path, namespace: 'contrast-absent' }));
      build.onLoad({ filter: /.*/, namespace: 'contrast-absent' }, (args) => ({
        contents: `const e = new Error(${JSON.stringify(`Cannot find module '${args.path}' (left out of this self-contained build)`)}); e.code = 'MODULE_NOT_FOUND'; throw e;`,
        loader: 'js',
      }));
    },
  };
}

/**
 * Fails the build when the output still imports a non-built-in, contains a forbidden package, or
 * loads a lazy package statically from an entry.
 */
function selfContainedGuard(forbid, lazy = [], entryFiles = []) {
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
        if (lazy.length > 0) {
          for (const file of eagerOutputs(meta.outputs, entryFiles)) {
            for (const [input, { bytesInOutput }] of Object.entries(meta.outputs[file]?.inputs ?? {})) {
              const pkg = packageOfInput(input);
              if (bytesInOutput > 0 && lazy.includes(pkg)) {
                problems.push(
                  `${pkg} may only be in lazily loaded chunks (a dynamic import()), but ${file} loads it at start`,
                );
                break;
              }
            }
          }
        }
        if (problems.length > 0) {
          return { errors: problems.map((text) => ({ text: `self-contained build: ${text}` })) };
        }
        return undefined;
      });
    },
  };
}

function defineSelfContainedBuild({ entry, banner, forbid, lazy, absent }) {
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
    esbuildPlugins: [absentPackages(absent), selfContainedGuard(forbid, lazy, Object.values(entry))],
  });
}
