// policy-eval: Kata agent-policy decisions per second with our TypeScript Rego evaluator
// (@contrast-cc/policy): an allowed CreateContainerRequest checked against a generated policy
// for a 3-container Deployment (any of the 3 policy containers may match), against
// `openssl speed ecdsap256` verifications per second, same machine, same run. Also reports
// policy parse time and a denied request (which walks every alternative).
// Target (issue #9): ratio >= 0.002 (a decision costs at most ~500 P-256 verifications, about
// 25 ms; the agent evaluates one per RPC, a handful per container start; our evaluator serves
// tests and `explain`, not the guest). Measured 2026-11-27 on the shared 2-core machine: 0.003-0.007.
import {
  AgentPolicy,
  DEFAULT_SETTINGS,
  generatePolicy,
  normalizeRequest,
  RecordedImageSource,
} from '@contrast-cc/policy';
import { opensslSpeed, opsPerSecond, printRatio } from '../lib.mjs';

const seconds = Number(process.env.BENCH_SECONDS ?? 3);
const PAUSE = 'ghcr.io/edgelesssys/kubernetes/pause:3.6';
const APP = `registry.example/shop/web:1.0@sha256:${'a'.repeat(64)}`;
const images = new RecordedImageSource({
  [PAUSE]: {
    reference: `${PAUSE}@sha256:${'b'.repeat(64)}`,
    digest: `sha256:${'b'.repeat(64)}`,
    config: { Entrypoint: ['/pause'], User: '65535:65535' },
  },
  [APP]: {
    reference: APP,
    digest: `sha256:${'a'.repeat(64)}`,
    config: { Env: ['PATH=/bin'], Entrypoint: ['/web'], WorkingDir: '/srv' },
  },
});
const containers = ['api', 'worker', 'web'].map((name) => ({
  name,
  image: APP,
  command: ['/web', name],
  env: [{ name: 'MODE', value: 'prod' }],
}));
const gen = await generatePolicy({
  pod: { metadata: { name: 'web', namespace: 'shop' }, spec: { containers } },
  kind: 'Deployment',
  images,
  settings: DEFAULT_SETTINGS,
  binding: 'initdata',
});
const bundle = 'c'.repeat(64);
const request = (args) => ({
  container_id: bundle,
  exec_id: bundle,
  storages: [
    {
      driver: 'image_guest_pull',
      source: APP.replace(':1.0', ''),
      fstype: 'overlay',
      mount_point: `/run/kata-containers/${bundle}/rootfs`,
    },
  ],
  OCI: {
    Version: '1.1.0',
    Root: { Path: `/run/kata-containers/${bundle}/rootfs`, Readonly: false },
    Annotations: {
      'io.kubernetes.cri.container-type': 'container',
      'io.kubernetes.cri.container-name': 'web',
      'io.kubernetes.cri.sandbox-name': 'web-7c56d66754-pq9qp',
      'io.kubernetes.cri.sandbox-namespace': 'shop',
      'io.kubernetes.cri.sandbox-id': 'd'.repeat(64),
      'io.kubernetes.cri.image-name': APP.replace(':1.0', ''),
      'io.katacontainers.pkg.oci.bundle_path': `/run/containerd/io.containerd.runtime.v2.task/k8s.io/${bundle}`,
      'io.katacontainers.pkg.oci.container_type': 'pod_container',
    },
    Process: {
      Args: args,
      Env: ['PATH=/bin', 'MODE=prod', 'HOSTNAME=web-7c56d66754-pq9qp', 'KUBERNETES_SERVICE_HOST=10.0.0.1'],
      Cwd: '/srv',
      User: { UID: 0, GID: 0, AdditionalGids: [0] },
      Capabilities: {
        Bounding: ['$(default_caps)'],
        Effective: ['$(default_caps)'],
        Permitted: ['$(default_caps)'],
      },
    },
    Linux: {
      Namespaces: [
        { Type: 'ipc', Path: '' },
        { Type: 'uts', Path: '' },
        { Type: 'mount', Path: '' },
      ],
      MaskedPaths: [
        '/proc/acpi',
        '/proc/asound',
        '/proc/kcore',
        '/proc/keys',
        '/proc/latency_stats',
        '/proc/timer_list',
        '/proc/timer_stats',
        '/proc/sched_debug',
        '/proc/scsi',
        '/sys/firmware',
      ],
      ReadonlyPaths: ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'],
    },
  },
});
const allowedInput = normalizeRequest('CreateContainerRequest', request(['/web', 'web']));
const deniedInput = normalizeRequest('CreateContainerRequest', request(['sh']));
const agent = new AgentPolicy(gen.policyText);
const check = agent.evaluate('CreateContainerRequest', allowedInput);
if (!check.allowed) throw new Error('benchmark request is not allowed by its policy');
// The agent parses the policy once (SetPolicy / initdata) and evaluates every RPC against it;
// the same container id re-checked against recorded state is allowed again without new ops.
const allow = () => {
  const d = agent.evaluate('CreateContainerRequest', allowedInput);
  if (!d.allowed) throw new Error('decision changed');
};
// Per CPU-second of this process, so a loaded shared machine does not distort the figure.
async function perCpuSecond(fn, secs) {
  for (let i = 0; i < 3; i++) await fn();
  const c0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  let n = 0;
  while (Number(process.hrtime.bigint() - t0) / 1e9 < secs) {
    await fn();
    n++;
  }
  const c = process.cpuUsage(c0);
  return n / ((c.user + c.system) / 1e6);
}
const parsesPerSecond = await perCpuSecond(() => new AgentPolicy(gen.policyText), 1);
const perSecond = await perCpuSecond(allow, seconds);
const deniedPerSecond = await perCpuSecond(() => agent.evaluate('CreateContainerRequest', deniedInput), 1);
const wallPerSecond = await opsPerSecond(allow, { seconds: 1, warmup: 3 });
const { verifyPerSec } = opensslSpeed('ecdsap256', seconds);
console.log(`policy text: ${gen.policyText.length} bytes, ${gen.policyData.containers.length} containers`);
console.log(
  `policy parse (once per pod): ${parsesPerSecond.toFixed(1)}/s (${(1000 / parsesPerSecond).toFixed(1)} ms)`,
);
console.log(
  `allowed CreateContainerRequest (parsed policy reused, as in the agent): ${perSecond.toFixed(1)}/s`,
);
console.log(`denied CreateContainerRequest (all alternatives tried): ${deniedPerSecond.toFixed(1)}/s`);
console.log(`allowed decisions per wall-clock second (load-dependent): ${wallPerSecond.toFixed(1)}/s`);
console.log(`openssl ecdsap256 verify: ${verifyPerSec.toFixed(0)}/s`);
printRatio(
  'policy-eval',
  perSecond / verifyPerSec,
  'allowed CreateContainerRequest decisions per CPU-second over openssl ecdsap256 verify/s',
);
