/**
 * Our Kata agent rules (package agent_policy), written for this project. Same entry points and
 * contract as Kata's agent policy (default deny, stateful `{allowed, ops}` results on
 * data.pstate), our own structure. Conventions of the policy data they read:
 * - a policy string starting with `^` is a regex (placeholders substituted first), otherwise it
 *   must be equal;
 * - placeholders: $(sfprefix) $(cpath) $(root_path) $(spath) $(bundle-id) $(sandbox-id)
 *   $(b64_device_id) and the common regex fragments ($(ipv4_a) $(ip_p) $(dns_label)
 *   $(svc_name_downward_env)).
 */
export const RULES_REGO = `package agent_policy

import future.keywords.in
import future.keywords.every
import future.keywords.if

default AllowRequestsFailingPolicy := false

default AddARPNeighborsRequest := false
default AddSwapRequest := false
default AddSwapPathRequest := false
default CloseStdinRequest := false
default CopyFileRequest := false
default CreateContainerRequest := {"allowed": false}
default CreateSandboxRequest := false
default ExecProcessRequest := false
default GetDiagnosticDataRequest := false
default GetIPTablesRequest := false
default GetMetricsRequest := false
default ListInterfacesRequest := false
default ListRoutesRequest := false
default MemHotplugByProbeRequest := false
default PauseContainerRequest := false
default ReadStreamRequest := false
default ReseedRandomDevRequest := false
default ResizeVolumeRequest := false
default ResumeContainerRequest := false
default SetGuestDateTimeRequest := false
default SetIPTablesRequest := false
default SetPolicyRequest := false
default StartTracingRequest := false
default StopTracingRequest := false
default UpdateContainerRequest := false
default UpdateEphemeralMountsRequest := false
default UpdateInterfaceRequest := false
default UpdateRoutesRequest := false
default VolumeStatsRequest := false
default WriteStreamRequest := false

default DestroySandboxRequest := true
default GetOOMEventRequest := true
default GuestDetailsRequest := true
default OnlineCPUMemRequest := true
default RemoveContainerRequest := {"allowed": true}
default RemoveStaleVirtiofsShareMountsRequest := true
default SignalProcessRequest := true
default StartContainerRequest := true
default StatsContainerRequest := true
default TtyWinResizeRequest := true
default WaitProcessRequest := true

CloseStdinRequest if { policy_data.request_defaults.CloseStdinRequest == true }
GetDiagnosticDataRequest if { policy_data.request_defaults.GetDiagnosticDataRequest == true }
ReadStreamRequest if { policy_data.request_defaults.ReadStreamRequest == true }
WriteStreamRequest if { policy_data.request_defaults.WriteStreamRequest == true }
UpdateEphemeralMountsRequest if { policy_data.request_defaults.UpdateEphemeralMountsRequest == true }

# ---------------------------------------------------------------- state

# ops that record key := value, [] when already recorded with that value; undefined on mismatch.
state_ops(key, value) := [] if {
  key in object.keys(data.pstate)
  data.pstate[key] == value
}

state_ops(key, value) := [{"op": "add", "path": concat("/", ["", "pstate", key]), "value": value}] if {
  not key in object.keys(data.pstate)
}

# ---------------------------------------------------------------- placeholders

subst(s, bundle_id, sandbox_id) := out if {
  c := policy_data.common
  s1 := replace(s, "$(sfprefix)", c.sfprefix)
  s2 := replace(s1, "$(root_path)", c.root_path)
  s3 := replace(s2, "$(cpath)", c.cpath)
  s4 := replace(s3, "$(spath)", c.spath)
  s5 := replace(s4, "$(bundle-id)", bundle_id)
  s6 := replace(s5, "$(sandbox-id)", sandbox_id)
  s7 := replace(s6, "$(b64_device_id)", "[a-zA-Z0-9_=-]+")
  s8 := replace(s7, "$(sandbox-namespace)", "[a-z0-9]([-a-z0-9]*[a-z0-9])?")
  s9 := replace(s8, "$(sandbox-name)", "[a-z0-9]([-a-z0-9.]*[a-z0-9])?")
  out := common_fragments(s9)
}

common_fragments(s) := out if {
  c := policy_data.common
  s1 := replace(s, "$(ipv4_a)", c.ipv4_a)
  s2 := replace(s1, "$(ip_p)", c.ip_p)
  s3 := replace(s2, "$(svc_name_downward_env)", c.svc_name_downward_env)
  out := replace(s3, "$(dns_label)", c.dns_label)
}

# A policy value matches: regex when it starts with "^", else equality.
matches(p, i, bundle_id, sandbox_id) if {
  startswith(subst(p, bundle_id, sandbox_id), "^")
  regex.match(subst(p, bundle_id, sandbox_id), i)
}

matches(p, i, bundle_id, sandbox_id) if {
  not startswith(subst(p, bundle_id, sandbox_id), "^")
  subst(p, bundle_id, sandbox_id) == i
}

# ---------------------------------------------------------------- CreateContainerRequest

CreateContainerRequest := {"allowed": true, "ops": ops} if {
  create_input_ok
  i_oci := input.OCI
  sandbox_name := i_oci.Annotations["io.kubernetes.cri.sandbox-name"]
  name_ops := state_ops("sandbox_name", sandbox_name)
  namespace := i_oci.Annotations["io.kubernetes.cri.sandbox-namespace"]
  ns_ops := state_ops("namespace", namespace)
  some idx, p_container in policy_data.containers
  container_matches(p_container, input)
  netns_ops := network_namespace_ops(p_container, i_oci)
  id_ops := state_ops(input.container_id, idx)
  ops := array.concat(array.concat(name_ops, ns_ops), array.concat(netns_ops, id_ops))
}

create_input_ok if {
  input.string_user == null
  count(input.shared_mounts) == 0
  input.OCI.Hooks == null
  input.OCI.Solaris == null
  input.OCI.Windows == null
  count(input.OCI.Linux.UIDMappings) == 0
  count(input.OCI.Linux.GIDMappings) == 0
  input.OCI.Linux.Seccomp == null
  input.OCI.Linux.MountLabel == ""
  input.OCI.Process.SelinuxLabel == ""
  input.OCI.Process.User.Username == ""
  count(input.OCI.Process.Rlimits) == 0
  input.OCI.Process.ApparmorProfile in {"", "cri-containerd.apparmor.d"}
  input.OCI.Linux.IntelRdt == null
  input.OCI.Linux.RootfsPropagation == ""
}

container_matches(p_container, i) if {
  p_oci := p_container.OCI
  i_oci := i.OCI
  i.sandbox_pidns == p_container.sandbox_pidns
  i_oci.Root.Readonly == p_oci.Root.Readonly
  p_oci.Annotations["io.kubernetes.cri.container-type"] == i_oci.Annotations["io.kubernetes.cri.container-type"]
  regex.match(p_oci.Annotations["io.kubernetes.cri.sandbox-name"], i_oci.Annotations["io.kubernetes.cri.sandbox-name"])
  container_name_matches(p_oci, i_oci)
  ids := bundle_and_sandbox_id(i_oci)
  bundle_id := ids[0]
  sandbox_id := ids[1]
  annotations_ok(p_container, i_oci, bundle_id, sandbox_id)
  image_ok(p_container, i)
  mounts_ok(p_container, i_oci, bundle_id, sandbox_id)
  storages_ok(p_container, i, bundle_id, sandbox_id)
  process_ok(p_container, i_oci.Process)
  linux_ok(p_oci, i_oci)
  volume_devices_ok(p_container, i)
  devices_ok(p_container, i)
  started_before(p_container)
}

container_name_matches(p_oci, i_oci) if {
  p_oci.Annotations["io.kubernetes.cri.container-type"] == "sandbox"
}

container_name_matches(p_oci, i_oci) if {
  p_oci.Annotations["io.kubernetes.cri.container-type"] == "container"
  p_oci.Annotations["io.kubernetes.cri.container-name"] == i_oci.Annotations["io.kubernetes.cri.container-name"]
}

bundle_and_sandbox_id(i_oci) := [bundle_id, sandbox_id] if {
  root_re := concat("", ["^", replace(policy_data.common.root_path, "$(bundle-id)", "([a-z0-9]{1,128})"), "$"])
  found := regex.find_all_string_submatch_n(root_re, i_oci.Root.Path, 1)
  bundle_id := found[0][1]
  sandbox_id := i_oci.Annotations["io.kubernetes.cri.sandbox-id"]
}

# Every input annotation is known to the policy (or is a CRI bookkeeping key) and matches.
annotations_ok(p_container, i_oci, bundle_id, sandbox_id) if {
  every key, value in i_oci.Annotations {
    annotation_ok(p_container.OCI.Annotations, key, value, bundle_id, sandbox_id)
  }
}

annotation_ok(p_annotations, key, value, bundle_id, sandbox_id) if {
  not key in {"io.kubernetes.cri.image-name", "io.kubernetes.cri.sandbox-name"}
  matches(p_annotations[key], value, bundle_id, sandbox_id)
}

annotation_ok(p_annotations, key, value, bundle_id, sandbox_id) if {
  key in {"io.kubernetes.cri.image-name", "io.kubernetes.cri.sandbox-name"}
}

annotation_ok(p_annotations, key, value, bundle_id, sandbox_id) if {
  not key in object.keys(p_annotations)
  cri_bookkeeping(key)
}

# CDI GPU annotations are checked together with the devices (devices_ok).
annotation_ok(p_annotations, key, value, bundle_id, sandbox_id) if {
  regex.match(policy_data.devices.vfio.anno_key_regex, key)
}

cri_bookkeeping(key) if { key in {"io.kubernetes.cri.sandbox-uid", "io.kubernetes.cri.sandbox-log-directory", "io.kubernetes.cri.container-name", "io.kubernetes.cri.sandbox-cpu-period", "io.kubernetes.cri.sandbox-cpu-quota", "io.kubernetes.cri.sandbox-cpu-shares", "io.kubernetes.cri.sandbox-memory", "io.kubernetes.cri.container-type", "io.kubernetes.cri.podsandbox.image-name"} }

# The digest part (after "@") of two image references; "" when there is none.
image_digest(ref) := d if {
  m := regex.find_all_string_submatch_n("^[^@]+(@.+)?$", ref, 1)
  d := m[0][1]
}

same_image(p_image, i_image) if {
  image_digest(p_image) == image_digest(i_image)
}

image_ok(p_container, i) if {
  p_container.OCI.Annotations["io.kubernetes.cri.container-type"] == "sandbox"
}

image_ok(p_container, i) if {
  p_container.OCI.Annotations["io.kubernetes.cri.container-type"] == "container"
  same_image(p_container.image, i.OCI.Annotations["io.kubernetes.cri.image-name"])
}

image_ok(p_container, i) if {
  p_container.OCI.Annotations["io.kubernetes.cri.container-type"] == "container"
  not "io.kubernetes.cri.image-name" in object.keys(i.OCI.Annotations)
}

# ---- mounts

mounts_ok(p_container, i_oci, bundle_id, sandbox_id) if {
  count({m.destination | some m in i_oci.Mounts}) == count(i_oci.Mounts)
  every i_mount in i_oci.Mounts {
    some p_mount in p_container.OCI.Mounts
    mount_ok(p_mount, i_mount, bundle_id, sandbox_id)
  }
}

mount_ok(p_mount, i_mount, bundle_id, sandbox_id) if {
  p_mount.destination == i_mount.destination
  p_mount.type_ == i_mount.type_
  matches(object.get(p_mount, "source", ""), i_mount.source, bundle_id, sandbox_id)
  mount_options_ok(p_mount, i_mount)
}

mount_options_ok(p_mount, i_mount) if {
  p_mount.options == i_mount.options
}

mount_options_ok(p_mount, i_mount) if {
  p_mount.type_ == "cgroup"
  extras := {o | some o in i_mount.options; not o in p_mount.options}
  every o in extras { o in policy_data.cluster_config.cgroup_mount_extras_allowed }
  [o | some o in i_mount.options; o in p_mount.options] == p_mount.options
}

# ---- storages

storages_ok(p_container, i, bundle_id, sandbox_id) if {
  every i_storage in i.storages {
    some p_storage in p_container.storages
    storage_ok(p_container, p_storage, i_storage, bundle_id, sandbox_id)
  }
}

storage_ok(p_container, p_storage, i_storage, bundle_id, sandbox_id) if {
  p_storage.driver == "image_guest_pull"
  i_storage.driver == "image_guest_pull"
  i_storage.fstype == "overlay"
  i_storage.fs_group == null
  i_storage.shared == false
  count(i_storage.options) == 0
  i_storage.mount_point == subst(p_storage.mount_point, bundle_id, sandbox_id)
  guest_pull_source_ok(p_container, p_storage, i_storage)
}

guest_pull_source_ok(p_container, p_storage, i_storage) if {
  p_storage.source == "pause"
  i_storage.source == "pause"
}

guest_pull_source_ok(p_container, p_storage, i_storage) if {
  p_storage.source != "pause"
  same_image(p_container.image, i_storage.source)
}

storage_ok(p_container, p_storage, i_storage, bundle_id, sandbox_id) if {
  p_storage.driver != "image_guest_pull"
  p_storage.driver == i_storage.driver
  p_storage.driver_options == i_storage.driver_options
  p_storage.fstype == i_storage.fstype
  p_storage.options == i_storage.options
  p_storage.shared == i_storage.shared
  i_storage.fs_group == p_storage.fs_group
  matches(p_storage.source, i_storage.source, bundle_id, sandbox_id)
  matches(p_storage.mount_point, i_storage.mount_point, bundle_id, sandbox_id)
}

# ---- process

process_ok(p_container, i_process) if {
  p_process := p_container.OCI.Process
  i_process.Terminal == p_process.Terminal
  i_process.Cwd == p_process.Cwd
  i_process.NoNewPrivileges == p_process.NoNewPrivileges
  i_process.Args == p_process.Args
  i_process.User.UID == p_process.User.UID
  i_process.User.GID == p_process.User.GID
  {g | some g in i_process.User.AdditionalGids} == {g | some g in p_process.User.AdditionalGids}
  env_ok(p_container, i_process.Env)
  env_present(p_container, i_process.Env)
  capabilities_ok(p_process.Capabilities, i_process.Capabilities)
}

# Every variable the pod spec sets (env, envFrom) is in the request, by name (env_ok checks the
# values): a host can drop one (e.g. the initializer's expected Coordinator) no more than add one.
env_present(p_container, i_env) if {
  names := {env_name(var) | some var in i_env}
  every name in object.get(p_container, "env_required", []) {
    env_var_present(names, name)
  }
}

env_var_present(names, required_var) if {
  required_var in names
}

env_name(var) := split(var, "=")[0]

env_ok(p_container, i_env) if {
  every var in i_env {
    env_var_ok(p_container, var)
  }
}

env_var_ok(p_container, var) if {
  var in p_container.OCI.Process.Env
}

env_var_ok(p_container, var) if {
  some re in p_container.env_regex
  regex.match(common_fragments(re), var)
}

env_var_ok(p_container, var) if {
  some re in policy_data.request_defaults.CreateContainerRequest.allow_env_regex
  regex.match(common_fragments(re), var)
}

capabilities_ok(p_caps, i_caps) if {
  caps_set(i_caps.Bounding) == caps_set(p_caps.Bounding)
  caps_set(i_caps.Effective) == caps_set(p_caps.Effective)
  caps_set(i_caps.Permitted) == caps_set(p_caps.Permitted)
  every c in caps_set(i_caps.Ambient) { c in caps_set(p_caps.Ambient) }
  every c in caps_set(i_caps.Inheritable) { c in caps_set(p_caps.Inheritable) }
}

# Capability lists may use the $(default_caps) / $(privileged_caps) shorthands.
caps_set(caps) := {c | some x in caps; some c in expand_caps(x)}

expand_caps(x) := policy_data.common.default_caps if { x == "$(default_caps)" }

expand_caps(x) := policy_data.common.privileged_caps if { x == "$(privileged_caps)" }

expand_caps(x) := [x] if { not startswith(x, "$(") }

# ---- linux

linux_ok(p_oci, i_oci) if {
  i_ns := {[n.Type, n.Path] | some n in i_oci.Linux.Namespaces; n.Type != "network"; n.Type != "cgroup"}
  p_ns := {[n.Type, n.Path] | some n in p_oci.Linux.Namespaces}
  i_ns == p_ns
  every path in p_oci.Linux.MaskedPaths { path in i_oci.Linux.MaskedPaths }
  every path in p_oci.Linux.ReadonlyPaths { path in i_oci.Linux.ReadonlyPaths }
  every key, value in i_oci.Linux.Sysctl { p_oci.Linux.Sysctl[key] == value }
}

network_namespace_ops(p_container, i_oci) := ops if {
  paths := [n.Path | some n in i_oci.Linux.Namespaces; n.Type == "network"]
  count(paths) == 0
  ops := state_ops("network_namespace", "")
}

network_namespace_ops(p_container, i_oci) := ops if {
  paths := [n.Path | some n in i_oci.Linux.Namespaces; n.Type == "network"]
  count(paths) == 1
  ops := state_ops("network_namespace", paths[0])
}

# ---- devices: raw block volumes (volumeDevices)

volume_devices_ok(p_container, i) if {
  linux_devices_ok(p_container.OCI, i.OCI)
  block_devices_ok(p_container, i)
}

# Every OCI device of the request is one of the container's volumeDevices (path and type; major
# and minor are the host's numbers, which the agent replaces with the guest device's), once.
linux_devices_ok(p_oci, i_oci) if {
  every d in i_oci.Linux.Devices {
    some p in p_oci.Linux.Devices
    d.Path == p.Path
    d.Type == p.Type
  }
  count({d.Path | some d in i_oci.Linux.Devices}) == count(i_oci.Linux.Devices)
}

# Every hot-plugged block device of the request (anything not under the VFIO path) is one of the
# container's volumeDevices, attached as virtio-blk or SCSI without options, once.
block_devices_ok(p_container, i) if {
  vfio_path := policy_data.devices.vfio.device_path
  blocks := [d | some d in i.devices; not startswith(d.container_path, vfio_path)]
  every d in blocks {
    some p in p_container.devices
    d.container_path == p.container_path
    d.type_ in {"blk", "scsi"}
    count(d.options) == 0
  }
  count({d.container_path | some d in blocks}) == count(blocks)
}

# ---- devices: VFIO GPUs (NVIDIA, cold-plug or hot-plug with CDI annotations)

devices_ok(p_container, i) if {
  vfio := policy_data.devices.vfio
  cdi := {k: v | some k, v in i.OCI.Annotations; regex.match(vfio.anno_key_regex, k)}
  count(cdi) == object.get(p_container, "gpus", 0)
  every k, v in cdi { regex.match(vfio.nvidia.gpu_anno_value_regex, v) }
  gpu_devices_ok(vfio, cdi, [d | some d in i.devices; startswith(d.container_path, vfio.device_path)])
}

# Cold-plug: the GPUs are already in the VM; no devices in the request.
gpu_devices_ok(vfio, cdi, devices) if {
  count(devices) == 0
}

# Hot-plug: one VFIO device per CDI annotation, paths correlated by number.
gpu_devices_ok(vfio, cdi, devices) if {
  count(devices) > 0
  paths := {d.container_path | some d in devices}
  count(paths) == count(devices)
  every d in devices { d.type_ == vfio.nvidia.gpu_gk_device_type }
  cdi_paths := {concat("", [vfio.device_path, trim_prefix(k, "cdi.k8s.io/vfio")]) | some k, _ in cdi}
  paths == cdi_paths
}

# ---------------------------------------------------------------- order of containers

# The containers this one needs created and started before it in this sandbox (the injected
# initializer, then the service-mesh sidecar): recorded by StartContainerRequest in data.pstate.
started_before(p_container) if {
  every name in object.get(p_container, "required_started", []) {
    container_started(name)
  }
}

container_started(required) if {
  started_key(required) in object.keys(data.pstate)
}

started_key(name) := concat(":", ["started", name])

# StartContainerRequest records that a container of this policy started (by its name), so that
# CreateContainerRequest can require it. Unknown container ids keep the default (allowed).
StartContainerRequest := {"allowed": true, "ops": ops} if {
  idx := data.pstate[input.container_id]
  name := policy_data.containers[idx].OCI.Annotations["io.kubernetes.cri.container-name"]
  ops := state_ops(started_key(name), true)
}

# ---------------------------------------------------------------- RemoveContainerRequest

RemoveContainerRequest := {"allowed": true, "ops": [{"op": "remove", "path": concat("/", ["", "pstate", input.container_id])}]} if {
  input.container_id in object.keys(data.pstate)
}

# ---------------------------------------------------------------- CreateSandboxRequest

CreateSandboxRequest if {
  input.sandbox_pidns == false
  input.guest_hook_path == ""
  count(input.kernel_modules) == 0
  every i_storage in input.storages { i_storage in policy_data.sandbox.storages }
}

# ---------------------------------------------------------------- ExecProcessRequest

ExecProcessRequest if {
  idx := data.pstate[input.container_id]
  p_container := policy_data.containers[idx]
  exec_process_ok(p_container, input.process)
  exec_command_allowed(p_container, input.process.Args)
}

exec_process_ok(p_container, i_process) if {
  input.string_user == null
  p_process := p_container.OCI.Process
  i_process.Terminal == false
  i_process.Capabilities == null
  i_process.Cwd == p_process.Cwd
  i_process.NoNewPrivileges == p_process.NoNewPrivileges
  i_process.SelinuxLabel == ""
  i_process.ApparmorProfile == ""
  i_process.User.UID == p_process.User.UID
  i_process.User.GID == p_process.User.GID
  {g | some g in i_process.User.AdditionalGids} == {g | some g in p_process.User.AdditionalGids}
  env_ok(p_container, i_process.Env)
}

exec_command_allowed(p_container, args) if {
  some cmd in p_container.exec_commands
  cmd == args
}

exec_command_allowed(p_container, args) if {
  some cmd in policy_data.request_defaults.ExecProcessRequest.allowed_commands
  cmd == args
}

exec_command_allowed(p_container, args) if {
  some re in policy_data.request_defaults.ExecProcessRequest.regex
  regex.match(re, concat(" ", args))
}

# ---------------------------------------------------------------- CopyFileRequest

CopyFileRequest if {
  input.file_type in {"Regular", "Directory"}
  copy_path_ok(input.path, ".+")
}

CopyFileRequest if {
  input.file_type == "Symlink"
  copy_path_ok(input.path, "[^/]+/.+")
  not startswith(input.symlink_target, "/")
  no_parent_components(input.symlink_target)
}

copy_path_ok(path, suffix) if {
  no_parent_components(path)
  some prefix in policy_data.request_defaults.CopyFileRequest
  re := concat("", [subst(prefix, "[a-z0-9]{64}", "[a-z0-9]{64}"), suffix, "$"])
  regex.match(re, path)
}

no_parent_components(path) if {
  not ".." in split(path, "/")
}

# ---------------------------------------------------------------- network

UpdateInterfaceRequest if {
  d := policy_data.request_defaults.UpdateInterfaceRequest
  i := input.interface
  not i.name in d.forbidden_names
  not i.hwAddr in d.forbidden_hw_addrs
  bits.and(i.raw_flags, bits.negate(d.allow_raw_flags)) == 0
}

UpdateRoutesRequest if {
  d := policy_data.request_defaults.UpdateRoutesRequest
  every route in input.routes.Routes {
    not route.device in d.forbidden_device_names
    every re in d.forbidden_source_regex { not regex.match(re, route.source) }
  }
}

AddARPNeighborsRequest if {
  d := policy_data.request_defaults.AddARPNeighborsRequest
  every n in input.neighbors.ARPNeighbors {
    not n.device in d.forbidden_device_names
    every re in d.forbidden_cidrs_regex { not regex.match(re, n.toIPAddress.address) }
    n.state in d.allowed_states
    bits.and(n.flags, bits.negate(136)) == 0
  }
}
`;
