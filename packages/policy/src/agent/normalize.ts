import { ContrastError, setOwn } from '@contrast-cc/core';

/**
 * Request normalization like the Kata agent's protobuf round-trip: every field of the message
 * is present (proto3 defaults: "", 0, false, [], {}; sub-messages null), unknown keys are dropped.
 * Field names are the Rust protobuf names (`type` -> `type_`). The schema below lists the
 * messages of agent.proto / oci.proto / types.proto that policy queries receive, as
 * `field:type` with `[]T` for repeated, `{}T` for maps and `#` for enums (integers).
 */
const SCHEMA_TEXT = `
Spec Version:string Process:Process Root:Root Hostname:string Mounts:[]Mount Hooks:Hooks Annotations:{}string Linux:Linux Solaris:Solaris Windows:Windows
Process Terminal:bool ConsoleSize:Box User:User Args:[]string Env:[]string Cwd:string Capabilities:LinuxCapabilities Rlimits:[]POSIXRlimit NoNewPrivileges:bool ApparmorProfile:string OOMScoreAdj:int SelinuxLabel:string
Box Height:int Width:int
User UID:int GID:int AdditionalGids:[]int Username:string
LinuxCapabilities Bounding:[]string Effective:[]string Inheritable:[]string Permitted:[]string Ambient:[]string
POSIXRlimit Type:string Hard:int Soft:int
Mount destination:string source:string type_:string options:[]string
Root Path:string Readonly:bool
Hooks Prestart:[]Hook Poststart:[]Hook Poststop:[]Hook CreateRuntime:[]Hook CreateContainer:[]Hook StartContainer:[]Hook
Hook Path:string Args:[]string Env:[]string Timeout:int
Linux UIDMappings:[]LinuxIDMapping GIDMappings:[]LinuxIDMapping Sysctl:{}string Resources:LinuxResources CgroupsPath:string Namespaces:[]LinuxNamespace Devices:[]LinuxDevice Seccomp:LinuxSeccomp RootfsPropagation:string MaskedPaths:[]string ReadonlyPaths:[]string MountLabel:string IntelRdt:LinuxIntelRdt
Windows dummy:string
Solaris dummy:string
LinuxIDMapping HostID:int ContainerID:int Size:int
LinuxNamespace Type:string Path:string
LinuxDevice Path:string Type:string Major:int Minor:int FileMode:int UID:int GID:int
LinuxResources Devices:[]LinuxDeviceCgroup Memory:LinuxMemory CPU:LinuxCPU Pids:LinuxPids BlockIO:LinuxBlockIO HugepageLimits:[]LinuxHugepageLimit Network:LinuxNetwork
LinuxMemory Limit:int Reservation:int Swap:int Kernel:int KernelTCP:int Swappiness:int DisableOOMKiller:bool
LinuxCPU Shares:int Quota:int Period:int RealtimeRuntime:int RealtimePeriod:int Cpus:string Mems:string
LinuxWeightDevice Major:int Minor:int Weight:int LeafWeight:int
LinuxThrottleDevice Major:int Minor:int Rate:int
LinuxBlockIO Weight:int LeafWeight:int WeightDevice:[]LinuxWeightDevice ThrottleReadBpsDevice:[]LinuxThrottleDevice ThrottleWriteBpsDevice:[]LinuxThrottleDevice ThrottleReadIOPSDevice:[]LinuxThrottleDevice ThrottleWriteIOPSDevice:[]LinuxThrottleDevice
LinuxPids Limit:int
LinuxDeviceCgroup Allow:bool Type:string Major:int Minor:int Access:string
LinuxNetwork ClassID:int Priorities:[]LinuxInterfacePriority
LinuxHugepageLimit Pagesize:string Limit:int
LinuxInterfacePriority Name:string Priority:int
LinuxSeccomp DefaultAction:string Architectures:[]string Flags:[]string Syscalls:[]LinuxSyscall
LinuxSyscall Names:[]string Action:string Args:[]LinuxSeccompArg
LinuxSeccompArg Index:int Value:int ValueTwo:int Op:string
LinuxIntelRdt L3CacheSchema:string
IPAddress family:# address:string mask:string
Interface device:string name:string IPAddresses:[]IPAddress mtu:int hwAddr:string devicePath:string type_:string raw_flags:int
Route dest:string gateway:string device:string source:string scope:int family:# flags:int mtu:int
ARPNeighbor toIPAddress:IPAddress device:string lladdr:string state:int flags:int
CreateContainerRequest container_id:string exec_id:string string_user:StringUser devices:[]Device storages:[]Storage OCI:Spec sandbox_pidns:bool shared_mounts:[]SharedMount stdin_port:int stdout_port:int stderr_port:int
RemoveContainerRequest container_id:string timeout:int
ExecProcessRequest container_id:string exec_id:string string_user:StringUser process:Process stdin_port:int stdout_port:int stderr_port:int
KernelModule name:string parameters:[]string
CreateSandboxRequest hostname:string dns:[]string storages:[]Storage sandbox_pidns:bool sandbox_id:string guest_hook_path:string kernel_modules:[]KernelModule
Routes Routes:[]Route
UpdateInterfaceRequest interface:Interface
UpdateRoutesRequest routes:Routes
ARPNeighbors ARPNeighbors:[]ARPNeighbor
AddARPNeighborsRequest neighbors:ARPNeighbors
FSGroup group_id:int group_change_policy:#
SharedMount name:string src_ctr:string src_path:string dst_ctr:string dst_path:string
Storage driver:string driver_options:[]string source:string fstype:string options:[]string mount_point:string fs_group:FSGroup shared:bool
Device id:string type_:string vm_path:string container_path:string options:[]string
StringUser uid:string gid:string additionalGids:[]string
`;

type FieldType = { repeated: boolean; map: boolean; base: string };
const SCHEMA = new Map<string, Array<[string, FieldType]>>();
for (const line of SCHEMA_TEXT.trim().split('\n')) {
  const [name, ...fields] = line.trim().split(/\s+/);
  SCHEMA.set(
    name as string,
    fields.map((f) => {
      const [fname, t] = f.split(':') as [string, string];
      const repeated = t.startsWith('[]');
      const map = t.startsWith('{}');
      return [fname, { repeated, map, base: repeated || map ? t.slice(2) : t }];
    }),
  );
}

/** Request kinds the normalizer knows (besides CopyFileRequest, which is pre-processed). */
export const NORMALIZED_KINDS = [
  'CreateContainerRequest',
  'RemoveContainerRequest',
  'ExecProcessRequest',
  'CreateSandboxRequest',
  'UpdateInterfaceRequest',
  'UpdateRoutesRequest',
  'AddARPNeighborsRequest',
  'CopyFileRequest',
] as const;

function scalar(base: string, v: unknown, field: string): unknown {
  const bad = (): never => {
    throw new ContrastError('invalid-argument', `expected ${base}, got ${JSON.stringify(v)}`, { field });
  };
  if (v === undefined || v === null) return base === 'string' ? '' : base === 'bool' ? false : 0;
  if (base === 'string') return typeof v === 'string' ? v : bad();
  if (base === 'bool') return typeof v === 'boolean' ? v : bad();
  return typeof v === 'number' && Number.isInteger(v) ? v : bad();
}

function value(t: FieldType, v: unknown, field: string): unknown {
  if (t.repeated) {
    if (v === undefined || v === null) return [];
    if (!Array.isArray(v)) throw new ContrastError('invalid-argument', 'expected a list', { field });
    return v.map((x, i) => single(t.base, x, `${field}[${i}]`));
  }
  if (t.map) {
    if (v === undefined || v === null) return {};
    if (typeof v !== 'object' || Array.isArray(v))
      throw new ContrastError('invalid-argument', 'expected a map', { field });
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v).sort())
      setOwn(out, k, single(t.base, (v as Record<string, unknown>)[k], `${field}.${k}`));
    return out;
  }
  return single(t.base, v, field);
}

function single(base: string, v: unknown, field: string): unknown {
  if (base === '#') return scalar('int', v, field);
  if (['string', 'bool', 'int'].includes(base)) return scalar(base, v, field);
  return normalizeMessage(base, v, field);
}

/** Normalizes `v` as message `name`; null/undefined sub-messages stay null. */
export function normalizeMessage(name: string, v: unknown, field = name): unknown {
  const fields = SCHEMA.get(name);
  if (!fields) throw new ContrastError('invalid-argument', `unknown message ${name}`, { field });
  if (v === undefined || v === null) return null;
  if (typeof v !== 'object' || Array.isArray(v)) {
    throw new ContrastError('invalid-argument', `expected an object for ${name}`, { field });
  }
  const src = v as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const [fname, t] of fields) out[fname] = value(t, src[fname], `${field}.${fname}`);
  return out;
}

/** The agent's PolicyCopyFileRequest (already pre-processed; data dropped). */
function normalizeCopyFile(v: unknown): unknown {
  const src = (typeof v === 'object' && v !== null ? v : {}) as Record<string, unknown>;
  const ft = src.file_type;
  return {
    path: scalar('string', src.path, 'path'),
    file_type: ft === 'Regular' || ft === 'Directory' || ft === 'Symlink' ? ft : 'Unknown',
    symlink_target: typeof src.symlink_target === 'string' ? src.symlink_target : null,
    file_size: scalar('int', src.file_size, 'file_size'),
    file_mode: scalar('int', src.file_mode, 'file_mode'),
    dir_mode: scalar('int', src.dir_mode, 'dir_mode'),
    uid: scalar('int', src.uid, 'uid'),
    gid: scalar('int', src.gid, 'gid'),
    offset: scalar('int', src.offset, 'offset'),
  };
}

/** Normalizes a request for `data.agent_policy.<kind>`. */
export function normalizeRequest(kind: string, request: unknown): unknown {
  if (kind === 'CopyFileRequest') return normalizeCopyFile(request);
  return normalizeMessage(kind, request ?? {}, kind);
}
