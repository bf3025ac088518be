import type { Command } from '../command.js';
import { ContrastImagesError, contrastImages, requireImage } from '../contrast-images.js';
import { type CliIo, EXIT, type ExitCode } from '../io.js';
import { parseFlags, parseWait, runCommand, usageError } from '../util.js';

const HELP = `contrast port-forward — reach a port of a confidential pod or Service from this machine.

Kata serves no "kubectl port-forward" into a confidential pod. This command starts a plain forwarder
pod (the cluster's default runtime, no runtimeClassName) running contrast's port-forwarder image,
a TCP relay to the target: a Service's cluster DNS name (<name>.<namespace>.svc) and port, or a
pod's IP. Once the relay reached the target (the pod is Ready), local connections are forwarded
through the Kubernetes port-forward API to the relay, one WebSocket per connection. The forwarder
pod is deleted when you stop (Ctrl-C), and on every error.

Usage:
  contrast port-forward <pod|svc>/<name> [LOCAL:]REMOTE [flags]

  REMOTE is the Service's port (not its targetPort) or the pod's container port; LOCAL defaults to
  REMOTE, ":REMOTE" or "0:REMOTE" picks a free local port.

Flags:
  -n, --namespace <ns>       the target's namespace (default: the kubeconfig context's, else default)
      --address <addr>       local address to listen on (default 127.0.0.1)
      --kubeconfig <file>    the kubeconfig (default $KUBECONFIG, else ~/.kube/config or in-cluster)
      --context <name>       a kubeconfig context other than the current one
      --image <ref>          the port-forwarder image (default: this contrast's release image, or the
                             images.json in CONTRAST_IMAGES)
      --timeout <duration>   how long to wait for the forwarder pod to be ready (default 2m)
  -h, --help                 show this help

Examples:
  contrast port-forward svc/coordinator 1314            # then: contrast set -c 127.0.0.1:1314 ...
  contrast port-forward -n shop svc/web 8443:443
  contrast port-forward pod/db-0 :5432                  # a free local port, printed

Leftover forwarder pods (after a kill -9): kubectl delete pods -A -l app.kubernetes.io/name=contrast-port-forward

The WebSocket port-forward protocol carries no half-close: a client that shuts down its sending
side before reading the whole answer loses the answer (request/response protocols such as HTTP,
TLS and databases are not affected).

Exit codes: 0 stopped by Ctrl-C (the pod deleted), 1 the forwarding failed (pod not ready in time,
target not reachable, pod gone, local port in use), 2 bad usage or bad input (unknown Service or
port, bad kubeconfig).
`;

/** Ctrl-C and SIGTERM as an AbortSignal, for as long as the command runs. */
function processSignal(): { signal: AbortSignal; dispose(): void } {
  const controller = new AbortController();
  const onSignal = () => controller.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  return {
    signal: controller.signal,
    dispose() {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
}

async function run(args: string[], io: CliIo): Promise<ExitCode> {
  const { values, positionals } = parseFlags(
    args,
    {
      namespace: { type: 'string', short: 'n' },
      address: { type: 'string', default: '127.0.0.1' },
      kubeconfig: { type: 'string' },
      context: { type: 'string' },
      image: { type: 'string' },
      timeout: { type: 'string', default: '2m' },
    },
    true,
  );
  if (positionals.length !== 2) {
    throw usageError('expected <pod|svc>/<name> and [LOCAL:]REMOTE (e.g. svc/coordinator 1314)');
  }
  const pf = await import('@contrast-cc/port-forward');
  const target = pf.parseForwardTarget(positionals[0]!);
  const ports = pf.parseForwardPorts(positionals[1]!);
  const readyTimeoutMs = parseWait(values.timeout, '--timeout');
  let image = values.image;
  if (image === undefined) {
    try {
      image = requireImage(contrastImages(io.env, io.cwd), 'port-forwarder', 'for the forwarder pod');
    } catch (error) {
      if (error instanceof ContrastImagesError) throw usageError(`${error.message} Or pass --image.`);
      throw error;
    }
  }
  const { kubeConfig, namespace: contextNamespace } = pf.loadKubeConfig({
    ...(values.kubeconfig !== undefined ? { file: values.kubeconfig } : {}),
    ...(values.context !== undefined ? { context: values.context } : {}),
    env: io.env,
    cwd: io.cwd,
  });
  const namespace = values.namespace ?? contextNamespace;
  const own = io.signal ? undefined : processSignal();
  const signal = io.signal ?? own!.signal;
  try {
    const session = await pf.startPortForward({
      kubeConfig,
      namespace,
      target,
      ports,
      image,
      address: values.address,
      readyTimeoutMs,
      signal,
      progress: (line) => io.stderr(`${line}\n`),
      ...(io.logger ? { logger: io.logger } : {}),
    });
    const local = session.address.includes(':') ? `[${session.address}]` : session.address;
    io.stdout(
      `Forwarding ${local}:${session.localPort} -> ${session.target} (via pod ${session.namespace}/${session.podName})\n`,
    );
    io.stderr('Press Ctrl-C to stop.\n');
    await session.done;
    return EXIT.ok;
  } finally {
    own?.dispose();
  }
}

export function createPortForwardCommand(): Command {
  return {
    name: 'port-forward',
    summary: 'forward a local port to a confidential pod or Service (via a plain forwarder pod)',
    help: HELP,
    run: (args, io) => runCommand('port-forward', io, () => run(args, io)),
  };
}
