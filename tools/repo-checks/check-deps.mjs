#!/usr/bin/env node
// The dependency-direction check. Layers, from the inside out:
//   core (packages/core)  <-  domain packages (packages/*)  <-  platforms (platforms/*)
//     <-  the platform catalog (platforms/catalog, @contrast-cc/platforms)  <-  apps (apps/*)
// Rules:
//   - core imports nothing of ours;
//   - a domain package imports core and other domain packages only;
//   - a platform imports core and domain packages; never another platform or an app
//     (its tests may import the platform testkit);
//   - the testkit (platforms/testkit) imports core and domain packages only;
//   - the catalog (@contrast-cc/platforms) is the one list of platforms: it imports core, domain
//     packages and platforms, and only apps import it;
//   - an app imports packages and platforms, never another app (shared logic belongs in a package);
//   - every @contrast-cc import is declared in package.json (non-test code: dependencies or
//     peerDependencies; in a self-contained package, whose tsup.config.ts bundles everything into
//     dist/ with `selfContained`, devDependencies: it needs them to build, not to run), uses a
//     subpath the target exports, and never reaches into src/ or dist/;
//   - relative imports stay inside their package;
//   - no import cycles between packages, nor between modules of one package;
//   - concerns stay in their packages (CONCERNS below): the Rego engine, the OCI registry client
//     and the Kubernetes resource pipeline never meet in one package's non-test code.
// Usage: node tools/repo-checks/check-deps.mjs [--root DIR] [--json]
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const SCOPE = '@contrast-cc/';
const TESTKIT = '@contrast-cc/platform-testkit';
const CATALOG = '@contrast-cc/platforms';

/** Workspace packages with their layer. */
export function discoverPackages(root) {
  const ws = readFileSync(path.join(root, 'pnpm-workspace.yaml'), 'utf8');
  const globs = [...ws.matchAll(/^\s*-\s*['"]?([^'"\s#]+)['"]?\s*$/gm)].map((m) => m[1]);
  const packages = [];
  for (const glob of globs) {
    if (!glob.endsWith('/*')) continue;
    const parent = glob.slice(0, -2);
    const abs = path.join(root, parent);
    if (!existsSync(abs)) continue;
    for (const entry of readdirSync(abs).sort()) {
      const dir = path.join(abs, entry);
      const pjPath = path.join(dir, 'package.json');
      if (!statSync(dir).isDirectory() || !existsSync(pjPath)) continue;
      const pj = JSON.parse(readFileSync(pjPath, 'utf8'));
      packages.push({
        name: pj.name,
        dir,
        rel: path.relative(root, dir),
        group: parent,
        pj,
        layer: layerOf(parent, pj.name),
      });
    }
  }
  return packages;
}

/** Whether the package's build bundles all its dependencies (tsup preset option `selfContained`). */
export function isSelfContained(dir) {
  const config = path.join(dir, 'tsup.config.ts');
  return existsSync(config) && /\bselfContained\s*:\s*(?:true|\{)/.test(readFileSync(config, 'utf8'));
}

function layerOf(group, name) {
  if (group === 'packages') return name === '@contrast-cc/core' ? 'core' : 'domain';
  if (group === 'platforms') return name === TESTKIT ? 'testkit' : name === CATALOG ? 'catalog' : 'platform';
  if (group === 'apps') return 'app';
  return 'tool';
}

const ALLOWED = {
  core: new Set(),
  domain: new Set(['core', 'domain']),
  testkit: new Set(['core', 'domain']),
  platform: new Set(['core', 'domain']),
  catalog: new Set(['core', 'domain', 'platform']),
  app: new Set(['core', 'domain', 'platform', 'catalog']),
  tool: new Set(['core', 'domain', 'platform', 'testkit', 'catalog', 'app', 'tool']),
};

// What a package's non-test code must never import, and why: each concern in its own package
// (a vendor who evaluates or generates a policy gets no registry client and no YAML pipeline).
const NETWORK = /^node:(http|https|http2|net|tls|dgram|child_process)$/;
export const CONCERNS = {
  '@contrast-cc/rego': [
    { spec: NETWORK, why: 'the Rego engine is pure: no network client, no processes' },
    { spec: /^node:fs(\/promises)?$/, why: 'the Rego engine is pure: it reads no files' },
    { spec: /^yaml$/, why: 'the Rego engine patches no YAML resources' },
  ],
  '@contrast-cc/oci': [
    {
      spec: /^@contrast-cc\/(rego|policy|kube-resources)$/,
      why: 'the OCI client knows nothing of policies or resources',
    },
    { spec: /^yaml$/, why: 'the OCI client patches no YAML resources' },
  ],
  '@contrast-cc/policy': [
    { spec: NETWORK, why: 'policy generation takes image facts (ImageSource); it has no network client' },
    {
      spec: /^@contrast-cc\/(oci|kube-resources)$/,
      why: 'the registry client and the resource pipeline build on the policy, not the reverse',
    },
  ],
  '@contrast-cc/kube-resources': [
    { spec: NETWORK, why: 'the resource pipeline resolves images through the ImageSource it is given' },
    { spec: /^@contrast-cc\/rego$/, why: 'the resource pipeline evaluates no Rego' },
  ],
};

function walk(dir, out = []) {
  if (!existsSync(dir)) return out;
  for (const entry of readdirSync(dir)) {
    if (entry === 'node_modules' || entry === 'dist' || entry.startsWith('.')) continue;
    const abs = path.join(dir, entry);
    if (statSync(abs).isDirectory()) walk(abs, out);
    else if (/\.(m?ts|tsx|mjs|js)$/.test(entry) && !entry.endsWith('.d.ts')) out.push(abs);
  }
  return out;
}

const isTestFile = (file) =>
  /\.test\.[mc]?[jt]sx?$/.test(file) || /[/\\](test-support|testing|__tests__)[/\\]/.test(file);

/** Import specifiers of a source text, with line numbers. Comments are blanked first. */
export function importsOf(text) {
  const blanked = text
    .replace(/\/\*[\s\S]*?\*\//g, (m) => m.replace(/[^\n]/g, ' '))
    .replace(/(^|[^:'"`])\/\/[^\n]*/g, (m, p) => p + ' '.repeat(m.length - p.length));
  const out = [];
  const re =
    /(?:\bimport\s+(?:type\s+)?(?:[\w*{}\s,$]+?\s+from\s+)?|\bexport\s+(?:type\s+)?(?:[\w*{}\s,$]+?\s+from\s+)|\bimport\s*\(\s*)(['"])([^'"\n]+)\1/g;
  for (const m of blanked.matchAll(re)) {
    const line = blanked.slice(0, m.index).split('\n').length;
    out.push({ spec: m[2], line });
  }
  return out;
}

function packageOfSpecifier(spec) {
  if (!spec.startsWith(SCOPE)) return undefined;
  const [scope, name, ...rest] = spec.split('/');
  return { name: `${scope}/${name}`, subpath: rest.length ? `./${rest.join('/')}` : '.' };
}

function resolveRelative(fromFile, spec) {
  const base = path.resolve(path.dirname(fromFile), spec);
  const candidates = [
    base,
    base.replace(/\.js$/, '.ts'),
    base.replace(/\.mjs$/, '.mts'),
    `${base}.ts`,
    path.join(base, 'index.ts'),
  ];
  return candidates.find((c) => existsSync(c) && statSync(c).isFile());
}

function findCycles(graph) {
  const cycles = [];
  const state = new Map();
  const stack = [];
  const visit = (node) => {
    state.set(node, 'active');
    stack.push(node);
    for (const next of graph.get(node) ?? []) {
      if (state.get(next) === 'active') cycles.push([...stack.slice(stack.indexOf(next)), next]);
      else if (!state.has(next)) visit(next);
    }
    stack.pop();
    state.set(node, 'done');
  };
  for (const node of [...graph.keys()].sort()) if (!state.has(node)) visit(node);
  return cycles;
}

/** Runs every rule; returns a list of violations `{ file, line, rule, message }`. */
export function checkDependencies(root) {
  const packages = discoverPackages(root);
  const byName = new Map(packages.map((p) => [p.name, p]));
  const violations = [];
  const packageGraph = new Map(packages.map((p) => [p.name, new Set()]));

  for (const pkg of packages) {
    const bundled = isSelfContained(pkg.dir);
    const declared = {
      runtime: new Set(
        Object.keys({
          ...pkg.pj.dependencies,
          ...pkg.pj.peerDependencies,
          ...(bundled ? pkg.pj.devDependencies : {}),
        }),
      ),
      any: new Set(
        Object.keys({ ...pkg.pj.dependencies, ...pkg.pj.peerDependencies, ...pkg.pj.devDependencies }),
      ),
    };
    const moduleGraph = new Map();
    for (const file of walk(path.join(pkg.dir, 'src'))) {
      const rel = path.relative(root, file);
      const test = isTestFile(file);
      const edges = new Set();
      moduleGraph.set(file, edges);
      for (const { spec, line } of importsOf(readFileSync(file, 'utf8'))) {
        const at = { file: rel, line };
        const concern = test ? undefined : CONCERNS[pkg.name]?.find((c) => c.spec.test(spec));
        if (concern) {
          violations.push({
            ...at,
            rule: 'concern',
            message: `${pkg.name} may not import "${spec}": ${concern.why}`,
          });
        }
        if (spec.startsWith('.')) {
          const target = path.resolve(path.dirname(file), spec);
          if (!target.startsWith(pkg.dir + path.sep)) {
            violations.push({
              ...at,
              rule: 'relative-escape',
              message: `"${spec}" leaves package ${pkg.name}; import the package by name`,
            });
            continue;
          }
          const resolved = resolveRelative(file, spec);
          if (resolved && !test) edges.add(resolved);
          continue;
        }
        const ref = packageOfSpecifier(spec);
        if (!ref) continue;
        if (ref.name === pkg.name) {
          violations.push({
            ...at,
            rule: 'self-import',
            message: `"${spec}": import your own modules relatively`,
          });
          continue;
        }
        const target = byName.get(ref.name);
        if (!target) {
          violations.push({
            ...at,
            rule: 'unknown-package',
            message: `"${spec}" is not a workspace package`,
          });
          continue;
        }
        if (/^\.\/(src|dist)(\/|$)/.test(ref.subpath)) {
          violations.push({
            ...at,
            rule: 'deep-import',
            message: `"${spec}" reaches into ${ref.subpath.split('/')[1]}/; use an exported subpath`,
          });
          continue;
        }
        const exported = target.pj.exports ? Object.keys(target.pj.exports) : ['.'];
        if (!exported.includes(ref.subpath)) {
          violations.push({
            ...at,
            rule: 'unexported-subpath',
            message: `"${spec}": ${target.name} exports ${exported.join(', ')}`,
          });
        }
        const testkitInTest =
          target.layer === 'testkit' && test && pkg.layer !== 'core' && pkg.layer !== 'domain';
        if (!ALLOWED[pkg.layer].has(target.layer) && !testkitInTest) {
          violations.push({
            ...at,
            rule: 'layer',
            message: `${pkg.layer} ${pkg.name} may not import ${target.layer} ${target.name} (core <- packages <- platforms <- apps)`,
          });
        }
        if (!(test ? declared.any : declared.runtime).has(target.name)) {
          violations.push({
            ...at,
            rule: 'undeclared',
            message: `${target.name} is imported but not in ${test ? 'package.json' : bundled ? 'package.json (self-contained build)' : 'dependencies/peerDependencies'} of ${pkg.name}`,
          });
        }
        if (!test) packageGraph.get(pkg.name).add(target.name);
      }
    }
    for (const cycle of findCycles(moduleGraph)) {
      violations.push({
        file: path.relative(root, cycle[0]),
        line: 1,
        rule: 'module-cycle',
        message: `import cycle: ${cycle.map((f) => path.relative(pkg.dir, f)).join(' -> ')}`,
      });
    }
  }
  for (const cycle of findCycles(packageGraph)) {
    violations.push({
      file: 'package.json',
      line: 1,
      rule: 'package-cycle',
      message: `package cycle: ${cycle.join(' -> ')}`,
    });
  }
  return violations;
}

const isMain = process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (isMain) {
  const args = process.argv.slice(2);
  const rootIdx = args.indexOf('--root');
  const root = path.resolve(
    rootIdx >= 0 ? args[rootIdx + 1] : path.join(path.dirname(fileURLToPath(import.meta.url)), '../..'),
  );
  const violations = checkDependencies(root);
  if (args.includes('--json')) console.log(JSON.stringify(violations, null, 2));
  else if (violations.length === 0)
    console.log(`check-deps: ${discoverPackages(root).length} packages, dependency direction and cycles OK`);
  else {
    for (const v of violations) console.error(`${v.file}:${v.line}: ${v.rule}: ${v.message}`);
    console.error(`check-deps: ${violations.length} violation(s)`);
  }
  process.exit(violations.length === 0 ? 0 : 1);
}
