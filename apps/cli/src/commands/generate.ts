import { generateKeyPair } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs, promisify } from 'node:util';
import type { Platform, PlatformRegistry } from '@contrast-cc/core';
import type { FileWrite, InjectedImages, PinnedImage, PolicyGenerator } from '@contrast-cc/kube-resources';
import type { Manifest } from '@contrast-cc/manifest';
import type { ImageSource, PolicySettings } from '@contrast-cc/policy';
import type { Command } from '../command.js';
import {
  type ContrastImages,
  ContrastImagesError,
  contrastImages,
  requireImage,
} from '../contrast-images.js';
import { type CliIo, EXIT, type ExitCode } from '../io.js';
import { workspaceFile } from '../util.js';

/** What the generate command is wired with; the app passes its platforms and image source. */
export interface GenerateCommandDeps {
  /** The platforms `--reference-values` and `contrast-cc-<platform>` choose from. */
  registry: PlatformRegistry;
  /**
   * Resolves image references (a registry client, or recorded facts); a function gets the
   * command's io (e.g. to read `CONTRAST_CACHE_DIR` or `DOCKER_CONFIG` from `io.env`).
   */
  images: ImageSource | ((io: CliIo) => ImageSource);
  /** Policy generation; default: `generatePolicy` of @contrast-cc/policy. */
  generatePolicy?: PolicyGenerator;
  /** Images of the injected containers; default: $CONTRAST_IMAGES, else this build's release-images.json. */
  injectedImages?: InjectedImages;
  /** `--assets <file|dir>`: the registry with the described platform rebuilt on those assets. */
  withAssets?: (
    registry: PlatformRegistry,
    location: string,
  ) => Promise<{ registry: PlatformRegistry; platform: Platform }>;
}

const HELP = `contrast generate — prepare your Kubernetes resources for Contrast and write the manifest.

Reads Kubernetes YAML files and directories. For every workload whose runtimeClassName is
contrast-cc or contrast-cc-<platform>, it
  - injects the Contrast initializer (gets the pod its mesh certificate and workload secret from
    the Coordinator) and the service-mesh sidecar (mutual TLS between your pods),
  - sets the platform's runtime class name,
  - pins every image by digest (repo:tag becomes repo:tag@sha256:... as the registry resolves
    the tag; an image already pinned keeps its digest), so the policy allows that image only,
  - computes the pod's Kata agent policy and writes it into the pod's annotations.
Then it writes or updates the manifest: every policy hash, the platform's reference values and
the owner keys. The resources must include the Coordinator (see examples/shop/coordinator.yml).
Nothing is written when any input is invalid.

Policies need each image's user and /etc/passwd, /etc/group, read from the image's registry
(credentials from $DOCKER_CONFIG or ~/.docker/config.json; layer facts are cached in
$CONTRAST_CACHE_DIR, default ~/.cache/contrast on Linux, ~/Library/Caches/contrast on macOS,
%LOCALAPPDATA%\\contrast\\cache on Windows). With CONTRAST_IMAGE_FACTS=<file.json> only those
recorded image facts are used and no registry is contacted.

The injected images (initializer, service mesh) are pinned by digest: a released contrast names
the images built from its own commit; an unreleased build names none and needs
CONTRAST_IMAGES=<images.json> (written by "pnpm --silent images build --push <registry>" in the
repository) or, offline, the Contrast images recorded in CONTRAST_IMAGE_FACTS.

Usage:
  contrast generate [flags] paths...

  paths...   YAML files, or directories searched for *.yaml and *.yml

Flags:
  -p, --reference-values <platform>   platform for workloads with runtimeClassName contrast-cc
                                      (Metal-QEMU-SNP, Metal-QEMU-TDX, AKS-CLH-SNP, or for a test
                                      Simulated-SNP, Simulated-TDX); its reference values go into
                                      the manifest
  -a, --assets <file|dir>             the runtime assets of a bare-metal platform (Metal-QEMU-SNP,
                                      Metal-QEMU-TDX; see "contrast runtime --help"): its runtime
                                      class and its launch measurements in the reference values.
                                      Required for those platforms (no release is pinned yet)
  -m, --manifest <file>               manifest to write or update (default manifest.json)
  -o, --output <file>                 write all patched resources to one file instead of in place
  -s, --settings <file|dir>           genpolicy settings (file, or dir with drop-ins)
      --policy <rules.rego>           the agent policy rules to use instead of the built-in ones
                                      (upstream's -p/--policy); when the file does not exist, the
                                      built-in rules are written there first, to edit
  -w, --add-workload-owner-key <pem>  workload owner key to add (repeatable; default
                                      workload-owner.pem, a P-384 key is generated when that one
                                      file is missing)
      --add-seedshare-owner-key <pem> seed-share owner key to add (repeatable; default
                                      seedshare-owner.pem, an RSA-4096 key is generated when that
                                      one file is missing)
      --seedshare-threshold <k>       k-of-n recovery: any k of the n seed-share owners together
                                      recover a restarted Coordinator, fewer cannot (the seed is
                                      split, each owner gets one share). Default: the manifest's
                                      value, else 1 (every owner alone, as upstream). 1 <= k <= n
  -d, --disable-updates               no workload owner keys: the manifest can never be updated
      --image-replacements <file>     lines "old=new": replace images in all workloads
      --skip-initializer              do not inject the initializer
      --skip-service-mesh             do not inject the service mesh sidecar
      --no-image-users                refuse (exit 2) instead of writing the users and groups guest
                                      pull cannot read (runAsUser, runAsGroup, supplementalGroups)
                                      from the digest-pinned image into the YAML
      --require-volume-integrity      refuse a ConfigMap/Secret volume whose object is not among
                                      the inputs (default: a warning; the volume is not checked)
      --memory-limits-to-requests     on a platform whose runtime applies container memory limits
                                      wrongly (AKS-CLH-SNP; generate warns on each limit without
                                      this flag): rewrite every memory limit to a request (kept
                                      when one is set) and size the VM with the Kata annotation
                                      io.katacontainers.config.hypervisor.default_memory instead
      --json                          print a JSON summary on stdout
  -h, --help                          show this help

Writes: the patched YAML files (or --output), the manifest, and new owner keys (file mode 0600)
when they do not exist yet. Keep the keys safe: workload-owner.pem authorizes manifest updates,
seedshare-owner.pem recovers a restarted Coordinator (with --seedshare-threshold k, any k owners'
keys together do; see "contrast recover --help").

Examples:
  contrast generate --reference-values Metal-QEMU-SNP resources/
  # three seed-share owners (existing RSA keys), any two of them recover the Coordinator
  contrast generate -p Metal-QEMU-SNP -a assets/ --add-seedshare-owner-key alice.pem \
    --add-seedshare-owner-key bob.pem --add-seedshare-owner-key carol.pem --seedshare-threshold 2 resources/
  # a local test: the simulator platform, recorded image facts (nothing fetched)
  CONTRAST_IMAGE_FACTS=examples/shop/image-facts.json \\
    contrast generate -p Simulated-TDX examples/shop/
Next: install the runtime ("contrast runtime --platform <id> | kubectl apply -f -"), deploy
("kubectl apply -f resources/"), then "contrast set -c <coordinator>:1314 resources/".

Exit codes: 0 done, 1 the operation failed (no Contrast workload or no Coordinator found, an image
could not be read), 2 bad usage or bad input (files are left as they were).
`;

class UsageError extends Error {}

/** The libraries, loaded on first use so that `contrast --help` stays fast. */
async function libraries() {
  const [core, manifest, policy, kube, rego] = await Promise.all([
    import('@contrast-cc/core'),
    import('@contrast-cc/manifest'),
    import('@contrast-cc/policy'),
    import('@contrast-cc/kube-resources'),
    import('@contrast-cc/rego'),
  ]);
  return { core, manifest, policy, kube, rego };
}
type Libraries = Awaited<ReturnType<typeof libraries>>;

interface Options {
  paths: string[];
  referenceValues?: string;
  assets?: string;
  /** Unset: manifest.json in the workspace. */
  manifest: string | undefined;
  output?: string;
  settings?: string;
  /** `--policy <rules.rego>`: custom agent policy rules. */
  policy?: string | undefined;
  workloadOwnerKeys: string[];
  seedshareOwnerKeys: string[];
  seedshareThreshold?: number | undefined;
  disableUpdates: boolean;
  imageReplacements?: string;
  skipInitializer: boolean;
  skipServiceMesh: boolean;
  noImageUsers: boolean;
  requireVolumeIntegrity: boolean;
  memoryLimitsToRequests: boolean;
  json: boolean;
}

function parseOptions(args: string[]): Options {
  let parsed: ReturnType<typeof parse>;
  function parse() {
    return parseArgs({
      args,
      allowPositionals: true,
      strict: true,
      options: {
        'reference-values': { type: 'string', short: 'p' },
        assets: { type: 'string', short: 'a' },
        manifest: { type: 'string', short: 'm' },
        output: { type: 'string', short: 'o' },
        settings: { type: 'string', short: 's' },
        policy: { type: 'string' },
        'add-workload-owner-key': { type: 'string', short: 'w', multiple: true },
        'workload-owner-key': { type: 'string', multiple: true },
        'add-seedshare-owner-key': { type: 'string', multiple: true },
        'seedshare-owner-key': { type: 'string', multiple: true },
        'seedshare-threshold': { type: 'string' },
        'disable-updates': { type: 'boolean', short: 'd' },
        'image-replacements': { type: 'string' },
        'skip-initializer': { type: 'boolean' },
        'skip-service-mesh': { type: 'boolean' },
        'no-image-users': { type: 'boolean' },
        'require-volume-integrity': { type: 'boolean' },
        'memory-limits-to-requests': { type: 'boolean' },
        json: { type: 'boolean' },
      },
    });
  }
  // Upstream's secure image store flag: not an unknown option but a missing feature, said so.
  if (args.includes('--inject-image-store')) {
    throw new UsageError(
      "--inject-image-store (upstream): Contrast for TypeScript has no secure image store; its pod VMs have no guest component for /dev/image_store, so images stay in the VM's encrypted memory (bare metal) or on dm-verity layers from the host (AKS). Drop the flag and size the containers' memory limits for the uncompressed images",
    );
  }
  try {
    parsed = parse();
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const v = parsed.values;
  const ownerKeys = [...(v['add-workload-owner-key'] ?? []), ...(v['workload-owner-key'] ?? [])];
  if (v['disable-updates'] && ownerKeys.length > 0) {
    throw new UsageError('--disable-updates and --add-workload-owner-key exclude each other');
  }
  if (parsed.positionals.length === 0) throw new UsageError('give at least one file or directory');
  const threshold = v['seedshare-threshold'];
  if (threshold !== undefined && !/^[1-9][0-9]{0,2}$/.test(threshold.trim())) {
    throw new UsageError(
      `--seedshare-threshold: must be a whole number k >= 1, got ${JSON.stringify(threshold)}`,
    );
  }
  return {
    paths: parsed.positionals,
    referenceValues: v['reference-values'],
    assets: v.assets,
    manifest: v.manifest,
    output: v.output,
    settings: v.settings,
    policy: v.policy,
    workloadOwnerKeys: ownerKeys,
    seedshareOwnerKeys: [...(v['add-seedshare-owner-key'] ?? []), ...(v['seedshare-owner-key'] ?? [])],
    seedshareThreshold: threshold === undefined ? undefined : Number(threshold.trim()),
    disableUpdates: v['disable-updates'] ?? false,
    imageReplacements: v['image-replacements'],
    skipInitializer: v['skip-initializer'] ?? false,
    skipServiceMesh: v['skip-service-mesh'] ?? false,
    noImageUsers: v['no-image-users'] ?? false,
    requireVolumeIntegrity: v['require-volume-integrity'] ?? false,
    memoryLimitsToRequests: v['memory-limits-to-requests'] ?? false,
    json: v.json ?? false,
  };
}

/** ` (VM 2 vCPUs, 704 MiB)` for a progress line; empty without a size. */
function vmSize(vm: { vcpus: number; memoryMiB?: number } | undefined): string {
  if (!vm) return '';
  return ` (VM ${plural(vm.vcpus, 'vCPU')}${vm.memoryMiB !== undefined ? `, ${vm.memoryMiB} MiB` : ''})`;
}

/** `1 workload`, `2 workloads`. */
export function plural(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}

/** A failure with its exit code and a message that names file and field. */
class Failure extends Error {
  constructor(
    readonly exitCode: ExitCode,
    message: string,
  ) {
    super(message);
  }
}

/** The policy generator with custom rules, or as it is. */
function withRules<G extends (input: never) => unknown>(generate: G, rules: string | undefined): G {
  if (rules === undefined) return generate;
  return ((input: Parameters<G>[0]) => generate({ ...(input as object), rules } as never)) as G;
}

/** Custom rules must be Rego of package agent_policy: refused (bad input) naming file and line. */
function checkRules(libs: Libraries, text: string, file: string): void {
  if (!/^\s*package\s+agent_policy\s*$/m.test(text)) {
    throw new UsageError(`--policy ${file}: not the agent policy rules (no "package agent_policy")`);
  }
  try {
    new libs.rego.RegoEngine().addPolicy(file, text);
  } catch (error) {
    // The engine's message starts with line:column.
    throw new UsageError(`--policy ${file}: not valid Rego at ${(error as Error).message ?? String(error)}`);
  }
}

async function exists(file: string): Promise<boolean> {
  return stat(file).then(
    () => true,
    () => false,
  );
}

async function readText(file: string, shown: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    throw new Failure(
      EXIT.usage,
      `${shown}: cannot read: ${(error as NodeJS.ErrnoException).code ?? 'error'}`,
    );
  }
}

/** `old=new` lines; `#` comments and blank lines ignored. */
export function parseImageReplacements(text: string, file: string): Map<string, string> {
  const out = new Map<string, string>();
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const eq = line.indexOf('=');
    if (eq <= 0 || eq === line.length - 1) {
      throw new Failure(EXIT.usage, `${file}: line ${i + 1}: expected "old=new"`);
    }
    out.set(line.slice(0, eq).trim(), line.slice(eq + 1).trim());
  });
  return out;
}

const generateKeyPairAsync = promisify(generateKeyPair);

interface OwnerKeys {
  hex: string[];
  writes: FileWrite[];
  generated: string[];
}

/**
 * Reads the owner keys; when exactly one path is given and it does not exist, a new key is made
 * (written later, with everything else, mode 0600). Messages never quote key material.
 */
async function ownerKeys(
  libs: Libraries,
  kind: 'workload' | 'seedshare',
  paths: string[],
  cwd: string,
): Promise<OwnerKeys> {
  const out: OwnerKeys = { hex: [], writes: [], generated: [] };
  for (const p of paths) {
    const abs = path.resolve(cwd, p);
    if (!(await exists(abs))) {
      if (paths.length !== 1) throw new Failure(EXIT.usage, `${p}: no such key file`);
      let pem: string;
      if (kind === 'workload') {
        const { privateKey } = await generateKeyPairAsync('ec', { namedCurve: 'P-384' });
        pem = privateKey.export({ format: 'pem', type: 'sec1' }) as string;
      } else {
        const { privateKey } = await generateKeyPairAsync('rsa', { modulusLength: 4096 });
        pem = privateKey.export({ format: 'pem', type: 'pkcs1' }) as string;
      }
      out.writes.push({ path: abs, data: pem, mode: 0o600 });
      out.generated.push(p);
      out.hex.push(
        kind === 'workload'
          ? libs.manifest.workloadOwnerKeyHex(pem)
          : libs.manifest.seedshareOwnerKeyHex(pem),
      );
      continue;
    }
    const pem = await readText(abs, p);
    try {
      out.hex.push(
        kind === 'workload'
          ? libs.manifest.workloadOwnerKeyHex(pem)
          : libs.manifest.seedshareOwnerKeyHex(pem),
      );
    } catch (error) {
      throw new Failure(EXIT.usage, `${p}: ${(error as Error).message}`);
    }
  }
  return out;
}

/**
 * The initializer and service-mesh images to inject, by digest, from $CONTRAST_IMAGES or this
 * build's release list; an image the run needs and nobody named is a usage error saying what to
 * supply (never a placeholder reference).
 */
function injectedImagesOf(io: CliIo, opts: Options): InjectedImages {
  let images: ContrastImages;
  try {
    images = contrastImages(io.env, io.cwd);
    const pick = (name: string, skip: boolean, flag: string) =>
      skip ? (images.references[name] ?? `(${flag})`) : requireImage(images, name, `unless ${flag}`);
    return {
      initializer: pick('initializer', opts.skipInitializer, '--skip-initializer'),
      serviceMesh: pick('service-mesh-proxy', opts.skipServiceMesh, '--skip-service-mesh'),
    };
  } catch (error) {
    if (error instanceof ContrastImagesError) throw new Failure(EXIT.usage, error.message);
    throw error;
  }
}

/** The untagged name resources use for "the Coordinator image of this contrast" (examples/shop). */
export const COORDINATOR_IMAGE = 'ghcr.io/contrast-cc/coordinator';

/**
 * `ghcr.io/contrast-cc/coordinator` (untagged) -> the Coordinator image this build names
 * ($CONTRAST_IMAGES, the release list or the recorded facts), as a replacement; none when no
 * coordinator image is named (the name then resolves like any other image, and fails as such).
 */
function coordinatorImageOf(io: CliIo, deps: GenerateCommandDeps): Array<[string, string]> {
  if (deps.injectedImages) return [];
  try {
    const ref = contrastImages(io.env, io.cwd).references.coordinator;
    return ref ? [[COORDINATOR_IMAGE, ref]] : [];
  } catch (error) {
    if (error instanceof ContrastImagesError) throw new Failure(EXIT.usage, error.message);
    throw error;
  }
}

/** Newly pinned images, one entry per image (in first-use order) with the containers using it. */
function pinnedByImage(pins: readonly PinnedImage[]): Array<{
  image: string;
  reference: string;
  digest: string;
  containers: Array<{ file: string; field: string; workload: string; container: string }>;
}> {
  const out = new Map<string, ReturnType<typeof pinnedByImage>[number]>();
  for (const p of pins) {
    let entry = out.get(p.image);
    if (!entry) {
      entry = { image: p.image, reference: p.reference, digest: p.digest, containers: [] };
      out.set(p.image, entry);
    }
    entry.containers.push({ file: p.file, field: p.field, workload: p.workload, container: p.container });
  }
  return [...out.values()];
}

function exitCodeOf(libs: Libraries, error: unknown): ExitCode {
  const { ResourceInputError } = libs.kube;
  if (error instanceof ResourceInputError && error.code !== 'validation-failed') {
    return error.code === 'not-found' ? EXIT.usage : EXIT.failed;
  }
  if (error instanceof ResourceInputError || error instanceof libs.manifest.ManifestValidationError) {
    return EXIT.usage;
  }
  if (
    libs.core.isContrastError(error) &&
    (error.code === 'invalid-argument' || error.code === 'validation-failed' || error.code === 'not-found')
  ) {
    return EXIT.usage;
  }
  return EXIT.failed;
}

function describe(libs: Libraries, error: unknown): string {
  if (libs.core.isContrastError(error)) return error.describe();
  return error instanceof Error ? error.message : String(error);
}

/**
 * A platform whose runtime is unknown (no pinned release, no --assets) has no RuntimeClass to
 * write and no launch measurement to put into the manifest: refuse (exit 2) with what to supply.
 */
function requireRuntime(libs: Libraries, platform: Platform): void {
  try {
    platform.runtime.runtimeClasses();
  } catch (error) {
    if (libs.core.isContrastError(error) && error.code === 'invalid-argument') {
      throw new Failure(EXIT.usage, `platform ${platform.id}: ${error.message}`);
    }
    throw error;
  }
}

async function run(libs: Libraries, deps: GenerateCommandDeps, args: string[], io: CliIo): Promise<ExitCode> {
  const { manifest: mf, policy, kube } = libs;
  const parsed = parseOptions(args);
  const opts = { ...parsed, manifest: parsed.manifest ?? workspaceFile(io, 'manifest.json') };
  const progress = (line: string) => io.stderr(`${line}\n`);
  const cwd = io.cwd;

  let registry = deps.registry;
  if (opts.assets !== undefined) {
    if (!deps.withAssets) throw new UsageError('--assets is not supported here');
    try {
      ({ registry } = await deps.withAssets(registry, path.resolve(cwd, opts.assets)));
    } catch (error) {
      if (libs.core.isContrastError(error)) throw new Failure(EXIT.usage, `--assets ${error.message}`);
      throw error;
    }
  }
  let defaultPlatform: Platform | undefined;
  if (opts.referenceValues !== undefined) {
    defaultPlatform = registry.find(opts.referenceValues);
    if (!defaultPlatform) {
      const known = registry.ids().join(', ') || 'none registered';
      // Upstream's -p is --policy <rules.rego>: never read a rules file as a platform silently.
      if (
        /\.rego$|[/\\]/.test(opts.referenceValues) ||
        (await exists(path.resolve(cwd, opts.referenceValues)))
      ) {
        throw new UsageError(
          `-p/--reference-values takes a platform here (known: ${known}), and "${opts.referenceValues}" looks like a file; to use your own policy rules (upstream's -p/--policy), pass --policy ${opts.referenceValues}`,
        );
      }
      throw new UsageError(
        `--reference-values: unknown platform "${opts.referenceValues}" (known: ${known})`,
      );
    }
    requireRuntime(libs, defaultPlatform);
  }

  // 1. Read and check every input before anything is generated or written.
  const files = await kube.loadResourceFiles(opts.paths, cwd);
  const manifestPath = path.resolve(cwd, opts.manifest);
  let existing: Manifest | undefined;
  if (await exists(manifestPath)) {
    existing = mf.parseManifest(await readText(manifestPath, opts.manifest), {
      file: opts.manifest,
    }).manifest;
  }
  // Custom rules (upstream's --policy): the file's text, or the built-in rules written there.
  let rules: { text: string; write?: string } | undefined;
  if (opts.policy !== undefined) {
    const rulesPath = path.resolve(cwd, opts.policy);
    if (await exists(rulesPath)) {
      const text = await readText(rulesPath, opts.policy);
      checkRules(libs, text, opts.policy);
      rules = { text };
    } else {
      rules = { text: policy.RULES_REGO, write: rulesPath };
    }
  }
  let settings: PolicySettings | undefined;
  if (opts.settings !== undefined)
    settings = await policy.loadPolicySettings(path.resolve(cwd, opts.settings));
  const replacements = new Map<string, string>(coordinatorImageOf(io, deps));
  const userReplacements = opts.imageReplacements
    ? parseImageReplacements(
        await readText(path.resolve(cwd, opts.imageReplacements), opts.imageReplacements),
        opts.imageReplacements,
      )
    : new Map<string, string>();
  // The user's replacements win over the release's Coordinator image.
  for (const [from, to] of userReplacements) replacements.set(from, to);
  // The root CA of this deployment, once `contrast set` wrote it: pods then pin it (another seed,
  // i.e. a Coordinator the host set up itself, is refused by their initializers).
  const rootCaPath = path.resolve(cwd, workspaceFile(io, 'coordinator-root-ca.pem'));
  const rootCa = (await exists(rootCaPath))
    ? await readText(rootCaPath, 'coordinator-root-ca.pem')
    : undefined;
  // 2. Patch in memory.
  const result = await kube.patchResources(files, {
    defaultPlatform,
    registry,
    images: typeof deps.images === 'function' ? deps.images(io) : deps.images,
    generatePolicy: withRules(deps.generatePolicy ?? policy.generatePolicy, rules?.text),
    settings,
    injectedImages: deps.injectedImages ?? injectedImagesOf(io, opts),
    skipInitializer: opts.skipInitializer,
    skipServiceMesh: opts.skipServiceMesh,
    fixFromImages: !opts.noImageUsers,
    requireVolumeIntegrity: opts.requireVolumeIntegrity,
    memoryLimitsToRequests: opts.memoryLimitsToRequests,
    imageReplacements: replacements,
    expectedCoordinator: { ...(existing ? { existing } : {}), ...(rootCa ? { rootCa } : {}) },
    onImagesPinned: (pins) => {
      for (const p of pinnedByImage(pins)) {
        progress(
          `pinned ${p.image} to ${p.digest.slice(0, 19)}… (${p.containers.length} container${p.containers.length === 1 ? '' : 's'})`,
        );
      }
    },
    onWorkload: (done, total, w) =>
      progress(
        `[${done}/${total}] ${w.kind} ${w.namespace}/${w.name}: policy ${w.policyHash.slice(0, 16)}…${vmSize(w.vm)}`,
      ),
  });
  if (result.workloads.length === 0) {
    throw new Failure(EXIT.failed, "no .yml/.yaml files with 'contrast-cc' runtime found");
  }
  if (!result.workloads.some((w) => w.role === 'coordinator')) {
    throw new Failure(
      EXIT.failed,
      'No Coordinator resource found, did you forget to add it to your resources?',
    );
  }
  // Owner keys after the resources checked out: a new RSA-4096 key takes a moment.
  const owners = opts.disableUpdates
    ? { hex: [], writes: [], generated: [] }
    : await ownerKeys(
        libs,
        'workload',
        opts.workloadOwnerKeys.length > 0
          ? opts.workloadOwnerKeys
          : [workspaceFile(io, 'workload-owner.pem')],
        cwd,
      );
  const seedshare = await ownerKeys(
    libs,
    'seedshare',
    opts.seedshareOwnerKeys.length > 0 ? opts.seedshareOwnerKeys : [workspaceFile(io, 'seedshare-owner.pem')],
    cwd,
  );

  const platforms = [...result.platforms];
  if (defaultPlatform && !platforms.includes(defaultPlatform)) platforms.push(defaultPlatform);
  for (const p of platforms) requireRuntime(libs, p);
  const assembled = kube.assembleManifest({
    existing,
    workloads: result.workloads,
    platforms,
    workloadOwnerKeys: owners.hex,
    seedshareOwnerKeys: seedshare.hex,
    ...(opts.seedshareThreshold !== undefined ? { seedshareThreshold: opts.seedshareThreshold } : {}),
    disableUpdates: opts.disableUpdates,
    file: opts.manifest,
  });

  // 3. Write everything at once.
  const writes: FileWrite[] = [];
  if (opts.output !== undefined) {
    writes.push({ path: path.resolve(cwd, opts.output), data: kube.joinResourceFiles(result.files) });
  } else {
    for (const f of result.files) if (f.changed) writes.push({ path: f.absolutePath, data: f.text });
  }
  const manifestText = mf.canonicalManifestJson(assembled.manifest);
  writes.push({ path: manifestPath, data: manifestText });
  writes.push(...owners.writes, ...seedshare.writes);
  if (rules?.write) writes.push({ path: rules.write, data: rules.text });
  await kube.writeFilesAtomic(writes);

  const written = writes.map((w) => path.relative(cwd, w.path) || w.path);
  const insecure = platforms.filter((p) => p.insecure);
  if (opts.json) {
    io.stdout(
      `${JSON.stringify(
        {
          manifest: opts.manifest,
          manifestHash: mf.manifestHash(new TextEncoder().encode(manifestText)),
          written,
          generatedKeys: [...owners.generated, ...seedshare.generated],
          workloads: result.workloads.map((w) => ({
            file: w.file,
            kind: w.kind,
            namespace: w.namespace,
            name: w.name,
            platform: w.platform.id,
            role: w.role,
            policyHash: w.policyHash,
            ...(w.vm ? { vm: w.vm } : {}),
          })),
          pinnedImages: pinnedByImage(result.pins),
          missing: assembled.missing,
          warnings: assembled.warnings,
          resourceWarnings: result.warnings,
          insecurePlatforms: insecure.map((p) => p.id),
        },
        null,
        2,
      )}\n`,
    );
  } else {
    const changed = opts.output ? result.files.length : result.files.filter((f) => f.changed).length;
    io.stdout(
      `✔ Patched ${plural(result.workloads.length, 'workload')} in ${plural(changed, 'file')}${opts.output ? ` into ${opts.output}` : ''}\n`,
    );
    for (const k of [...owners.generated, ...seedshare.generated]) io.stdout(`✔ Generated ${k}\n`);
    io.stdout(`✔ Wrote ${opts.manifest}\n`);
    for (const w of assembled.warnings) io.stdout(`⚠ ${opts.manifest}: ${w.path}: ${w.message}\n`);
    for (const w of result.warnings) io.stdout(`⚠ ${w.file}: ${w.field ?? ''}: ${w.message}\n`);
    if (assembled.missing.length > 0) {
      io.stdout(`⚠ Please fill in these reference values in ${opts.manifest}:\n`);
      for (const m of assembled.missing) io.stdout(`  ${m.path}: ${m.message}\n`);
    }
  }
  for (const p of insecure) {
    io.stderr(
      `WARNING: platform ${p.id} is INSECURE (simulated): its evidence proves nothing. Never use it for real data.\n`,
    );
  }
  return EXIT.ok;
}

/**
 * `contrast generate`, wired with the app's platform registry and image source.
 */
export function createGenerateCommand(deps: GenerateCommandDeps): Command {
  return {
    name: 'generate',
    summary: 'inject Contrast into Kubernetes resources, generate policies and the manifest',
    help: HELP,
    async run(args, io) {
      const libs = await libraries();
      try {
        return await run(libs, deps, args, io);
      } catch (error) {
        if (error instanceof UsageError) {
          io.stderr(`contrast generate: ${error.message}\nRun "contrast generate --help" for usage.\n`);
          return EXIT.usage;
        }
        if (error instanceof Failure) {
          io.stderr(`contrast generate: ${error.message}\n`);
          return error.exitCode;
        }
        io.stderr(`contrast generate: ${describe(libs, error).split('\n').join('\ncontrast generate: ')}\n`);
        if (
          error instanceof libs.manifest.ManifestValidationError &&
          error.issues.some((i) => i.path === 'SeedshareThreshold')
        ) {
          io.stderr('hint: one --add-seedshare-owner-key <pem> per owner; k of them recover together\n');
        }
        return exitCodeOf(libs, error);
      }
    },
  };
}
