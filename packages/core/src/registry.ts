import { ContrastError } from './errors.js';
import { isPlatform, type Platform, SUPPORTED_PLATFORM_API_VERSIONS, validatePlatform } from './platform.js';

/**
 * The platforms one program knows. Built explicitly by the app; nothing registers itself.
 * @public
 */
export interface PlatformRegistry {
  /** Every platform, in registration order. */
  list(): readonly Platform[];
  /** Every id, in registration order. */
  ids(): string[];
  /** The platform with this id or alias (case-insensitive); throws `platform-not-found`. */
  get(idOrAlias: string): Platform;
  /** Like `get`, but `undefined` when nothing matches. */
  find(idOrAlias: string): Platform | undefined;
  /** The platform that provides a RuntimeClass of this name. */
  findByRuntimeClassName(name: string): Platform | undefined;
}

/**
 * Builds a registry. Rejects non-platforms, unknown contract versions, broken descriptors and
 * any two platforms sharing an id, alias or RuntimeClass name.
 * @public
 */
export function createPlatformRegistry(platforms: readonly Platform[]): PlatformRegistry {
  const byName = new Map<string, Platform>();
  const byRuntimeClass = new Map<string, Platform>();
  for (const [i, p] of platforms.entries()) {
    if (!isPlatform(p)) {
      throw new ContrastError(
        'invalid-platform',
        `entry ${i} is not a platform; build it with definePlatform()`,
        {
          field: `platforms[${i}]`,
        },
      );
    }
    if (!SUPPORTED_PLATFORM_API_VERSIONS.includes(p.apiVersion)) {
      throw new ContrastError(
        'unsupported-api-version',
        `platform "${p.id}" uses plugin contract version ${p.apiVersion}, this core supports ${SUPPORTED_PLATFORM_API_VERSIONS.join(', ')}; install matching versions of @contrast-cc/core and the platform package`,
        { field: `platforms[${i}].apiVersion` },
      );
    }
    const problems = validatePlatform(p);
    if (problems.length > 0) {
      throw new ContrastError('invalid-platform', `platform "${p.id}": ${problems[0]!.message}`, {
        field: `platforms[${i}].${problems[0]!.field}`,
      });
    }
    for (const name of [p.id, ...p.aliases]) {
      const key = name.toLowerCase();
      const other = byName.get(key);
      if (other) {
        throw new ContrastError(
          'duplicate-platform',
          `"${name}" of platform "${p.id}" is already taken by platform "${other.id}"`,
          { field: `platforms[${i}]` },
        );
      }
      byName.set(key, p);
    }
    for (const rc of p.runtime.runtimeClassNames) {
      const other = byRuntimeClass.get(rc);
      if (other) {
        throw new ContrastError(
          'duplicate-platform',
          `RuntimeClass "${rc}" is provided by "${other.id}" and "${p.id}"`,
          {
            field: `platforms[${i}].runtime.runtimeClassNames`,
          },
        );
      }
      byRuntimeClass.set(rc, p);
    }
  }
  const list = Object.freeze([...platforms]);
  const find = (idOrAlias: string) => byName.get(idOrAlias.toLowerCase());
  return {
    list: () => list,
    ids: () => list.map((p) => p.id),
    find,
    get(idOrAlias) {
      const p = find(idOrAlias);
      if (!p) {
        const known = list.map((x) => x.id).join(', ') || '(none registered)';
        throw new ContrastError(
          'platform-not-found',
          `unknown platform "${idOrAlias}"; known platforms: ${known}`,
          {
            field: 'platform',
          },
        );
      }
      return p;
    },
    findByRuntimeClassName: (name) => byRuntimeClass.get(name),
  };
}
