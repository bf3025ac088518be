import { ContrastError, isDnsLabel, isDnsSubdomain } from '@contrast-cc/core';

/** What to forward to: a pod (by its IP) or a Service (by its cluster DNS name). @public */
export interface ForwardTarget {
  kind: 'pod' | 'service';
  name: string;
}

/** Local and remote port of one forwarding. @public */
export interface ForwardPorts {
  /** The local port; 0 picks a free one. */
  local: number;
  /** The port of the pod (container port) or of the Service (its `port`, not the targetPort). */
  remote: number;
}

const KINDS: Record<string, ForwardTarget['kind']> = {
  pod: 'pod',
  pods: 'pod',
  po: 'pod',
  svc: 'service',
  service: 'service',
  services: 'service',
};

/** `pod/<name>` or `svc/<name>` (also `pods/`, `po/`, `service/`, `services/`, as kubectl). @public */
export function parseForwardTarget(text: string): ForwardTarget {
  const m = /^([a-z]+)\/(.*)$/.exec(text);
  const kind = m ? KINDS[m[1]!] : undefined;
  if (!m || !kind) {
    throw new ContrastError('invalid-argument', `"${text}": expected pod/<name> or svc/<name>`, {
      field: 'target',
    });
  }
  const name = m[2]!;
  // Pod names are DNS subdomains, Service names DNS labels.
  if (kind === 'pod' ? !isDnsSubdomain(name) : !isDnsLabel(name)) {
    throw new ContrastError(
      'invalid-argument',
      `"${name}" is not a valid ${kind === 'pod' ? 'pod' : 'Service'} name`,
      { field: 'target' },
    );
  }
  return { kind, name };
}

function portNumber(text: string, which: string, allowZero: boolean): number {
  const n = /^\d{1,5}$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isInteger(n) || n > 65535 || (n === 0 && !allowZero)) {
    throw new ContrastError(
      'invalid-argument',
      `"${text}" is not a valid ${which} port (1-65535${allowZero ? ', or 0 for any free port' : ''})`,
      { field: 'ports' },
    );
  }
  return n;
}

/**
 * `[LOCAL:]REMOTE` as kubectl takes it: `8080` (the same port locally), `9000:8080`, `:8080`
 * or `0:8080` (any free local port). @public
 */
export function parseForwardPorts(text: string): ForwardPorts {
  const parts = text.split(':');
  if (parts.length > 2) {
    throw new ContrastError('invalid-argument', `"${text}": expected [LOCAL:]REMOTE`, { field: 'ports' });
  }
  const remote = portNumber(parts.at(-1)!, 'remote', false);
  if (parts.length === 1) return { local: remote, remote };
  const local = parts[0] === '' ? 0 : portNumber(parts[0]!, 'local', true);
  return { local, remote };
}

/** `svc/name` or `pod/name`, for messages. @public */
export function describeTarget(target: ForwardTarget): string {
  return `${target.kind === 'service' ? 'svc' : 'pod'}/${target.name}`;
}
