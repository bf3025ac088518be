import { ContrastError } from '@contrast-cc/core';

interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
}
interface GroupEntry {
  name: string;
  gid: number;
  members: string[];
}

export function parsePasswd(text: string | undefined): PasswdEntry[] {
  if (!text) return [];
  const out: PasswdEntry[] = [];
  for (const line of text.split('\n')) {
    const f = line.split(':');
    if (f.length < 4 || line.startsWith('#')) continue;
    const uid = Number(f[2]);
    const gid = Number(f[3]);
    if (Number.isInteger(uid) && Number.isInteger(gid)) out.push({ name: f[0] as string, uid, gid });
  }
  return out;
}

export function parseGroup(text: string | undefined): GroupEntry[] {
  if (!text) return [];
  const out: GroupEntry[] = [];
  for (const line of text.split('\n')) {
    const f = line.split(':');
    if (f.length < 3 || line.startsWith('#')) continue;
    const gid = Number(f[2]);
    if (!Number.isInteger(gid)) continue;
    out.push({ name: f[0] as string, gid, members: (f[3] ?? '').split(',').filter(Boolean) });
  }
  return out;
}

/** The process user as containerd computes it from the image and the security context. */
export interface ResolvedUser {
  UID: number;
  GID: number;
  AdditionalGids: number[];
  Username: string;
}

/**
 * What decides a container's user: the image `User` with the image's /etc/passwd and /etc/group,
 * and the pod's securityContext values; `field` names the container in errors.
 */
export interface ContainerUserInput {
  imageUser: string | undefined;
  passwd: string | undefined;
  group: string | undefined;
  runAsUser?: number | undefined;
  runAsGroup?: number | undefined;
  supplementalGroups?: number[] | undefined;
  fsGroup?: number | undefined;
  field: string;
}

/**
 * Resolves the container user like containerd's WithUser/WithAdditionalGIDs:
 * - UID/GID from runAsUser/runAsGroup, else from the image `User` (`name|uid[:group|gid]`)
 *   resolved through the image's /etc/passwd and /etc/group;
 * - AdditionalGids = {GID} ∪ memberships of the user in /etc/group (not a group named like the
 *   user) ∪ supplementalGroups ∪ fsGroup.
 */
export function resolveUser(input: ContainerUserInput): ResolvedUser {
  const passwd = parsePasswd(input.passwd);
  const groups = parseGroup(input.group);
  const spec = (input.imageUser ?? '').trim();
  let [userPart, groupPart] =
    spec === '' ? ['', undefined] : (spec.split(':', 2) as [string, string | undefined]);
  userPart = userPart ?? '';
  let uid = 0;
  let gid: number | undefined;
  let name: string | undefined;
  if (input.runAsUser !== undefined) {
    uid = input.runAsUser;
    const entry = passwd.find((p) => p.uid === uid);
    name = entry?.name;
    gid = entry?.gid;
  } else if (userPart === '') {
    uid = 0;
    const entry = passwd.find((p) => p.uid === 0);
    name = entry?.name ?? 'root';
    gid = entry?.gid ?? 0;
  } else if (/^[0-9]+$/.test(userPart)) {
    uid = Number(userPart);
    const entry = passwd.find((p) => p.uid === uid);
    name = entry?.name;
    gid = entry?.gid;
  } else {
    const entry = passwd.find((p) => p.name === userPart);
    if (!entry) {
      throw new ContrastError(
        'validation-failed',
        `image user ${JSON.stringify(userPart)} is not in the image's /etc/passwd`,
        {
          field: input.field,
        },
      );
    }
    uid = entry.uid;
    name = entry.name;
    gid = entry.gid;
  }
  if (groupPart !== undefined && groupPart !== '' && input.runAsUser === undefined) {
    if (/^[0-9]+$/.test(groupPart)) gid = Number(groupPart);
    else {
      const g = groups.find((x) => x.name === groupPart);
      if (!g) {
        throw new ContrastError(
          'validation-failed',
          `image group ${JSON.stringify(groupPart)} is not in /etc/group`,
          {
            field: input.field,
          },
        );
      }
      gid = g.gid;
    }
  }
  if (input.runAsGroup !== undefined) gid = input.runAsGroup;
  const finalGid = gid ?? 0;
  const extra = new Set<number>([finalGid]);
  // Memberships in /etc/group, except a group named like the user (containerd skips those,
  // containerd issue #11937).
  if (name !== undefined) {
    for (const g of groups) if (g.members.includes(name) && g.name !== name) extra.add(g.gid);
  }
  for (const g of input.supplementalGroups ?? []) extra.add(g);
  if (input.fsGroup !== undefined) extra.add(input.fsGroup);
  return { UID: uid, GID: finalGid, AdditionalGids: [...extra].sort((a, b) => a - b), Username: '' };
}

/** What a container must state explicitly under guest pull (only the keys not already set). */
export interface GuestPullNeeds {
  /** The image user's UID, when neither runAsUser nor a numeric image `User` gives it. */
  runAsUser?: number;
  /** The image user's GID, when neither runAsGroup nor a numeric image group gives it. */
  runAsGroup?: number;
  /** Groups from /etc/group not yet in supplementalGroups/fsGroup (a pod-level field). */
  supplementalGroups: number[];
}

/**
 * With guest pull the host runtime never sees the image layers, so it cannot resolve users or
 * groups from /etc/passwd and /etc/group: only explicit securityContext values (and a numeric
 * image `User`) reach the container. Returns the values a pod must state when the image-derived
 * identity would need the layers (never a key that is already set), or undefined when nothing is
 * missing.
 */
export function guestPullUserProblem(input: ContainerUserInput): GuestPullNeeds | undefined {
  const user = resolveUser(input);
  const spec = (input.imageUser ?? '').split(':');
  const numeric = (x: string | undefined): boolean => x !== undefined && /^[0-9]+$/.test(x);
  const explicitUid = input.runAsUser !== undefined || numeric(spec[0]);
  const explicitGid = input.runAsGroup !== undefined || numeric(spec[1]);
  const explicitGroups = new Set([
    ...(input.supplementalGroups ?? []),
    ...(input.fsGroup === undefined ? [] : [input.fsGroup]),
  ]);
  const missingUid = user.UID !== 0 && !explicitUid;
  const missingGid = user.GID !== 0 && !explicitGid;
  const missingGroups = user.AdditionalGids.filter((g) => g !== user.GID && !explicitGroups.has(g));
  if (!missingUid && !missingGid && missingGroups.length === 0) return undefined;
  const out: GuestPullNeeds = { supplementalGroups: missingGroups };
  if (missingUid) out.runAsUser = user.UID;
  if (missingGid) out.runAsGroup = user.GID;
  return out;
}
