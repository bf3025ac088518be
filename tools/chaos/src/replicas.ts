// The Coordinator replicas of a StatefulSet, as processes: each has a stable API port (its stable
// pod name), knows the other two as peers, and is restarted after a SIGKILL with the same
// configuration. Each incarnation's output is kept in a log file of the run.
import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';
import { request } from 'node:http';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const register = createRequire(import.meta.url).resolve('@contrast-cc/build-config/ts-register');
/** The Coordinator's entry point, run from its sources (no build needed). */
export const COORDINATOR_MAIN = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '../../../apps/coordinator/src/main.ts',
);

/** Every Coordinator process this module started and that has not exited yet. */
const live = new Set<ChildProcess>();

/**
 * SIGKILLs every Coordinator process still running (for signal handlers and test hooks: a run that
 * is interrupted or times out leaves nothing behind).
 */
export function killAllReplicaProcesses(): number {
  for (const c of live) c.kill('SIGKILL');
  return live.size;
}

/** What the harness knows of one replica at a moment. */
export type ReplicaPhase =
  /** no process (killed, not restarted yet) */
  | 'down'
  /** process started, API not listening yet */
  | 'starting'
  /** listening, without the secrets (stale or uninitialized) */
  | 'stale'
  /** has the secrets: set the manifest, or logged its peer recovery */
  | 'active';

/** One process of a replica. */
export interface Incarnation {
  n: number;
  child: ChildProcess;
  startedAt: number;
  listeningAt?: number;
  metricsPort?: number;
  /** When it logged `recovered from a peer Coordinator` (harness clock), and from whom. */
  recoveredAt?: number;
  recoveredFrom?: string;
  /** Log lines that were not info/debug (warnings and errors), kept for the report. */
  problems: string[];
  exited: Promise<number | NodeJS.Signals | null>;
  exitedWith?: number | NodeJS.Signals | null;
  killed: boolean;
}

/** Milliseconds on the harness's monotonic clock since `origin`. */
export type Clock = () => number;

export interface ReplicaOptions {
  name: string;
  apiPort: number;
  peerPorts: number[];
  env: Record<string, string>;
  logDir: string;
  clock: Clock;
  /** Called with each parsed log line of each incarnation. */
  onLine?: (replica: Replica, line: Record<string, unknown>) => void;
}

export class Replica {
  readonly name: string;
  readonly apiPort: number;
  readonly incarnations: Incarnation[] = [];
  /** Set by the harness for the replica that set the manifest (it is active without recovering). */
  activeBySet = false;
  readonly #o: ReplicaOptions;
  readonly #logs: WriteStream[] = [];

  constructor(options: ReplicaOptions) {
    this.#o = options;
    this.name = options.name;
    this.apiPort = options.apiPort;
  }

  get current(): Incarnation | undefined {
    const c = this.incarnations.at(-1);
    return c && c.exitedWith === undefined && !c.killed ? c : undefined;
  }

  get phase(): ReplicaPhase {
    const c = this.current;
    if (!c) return 'down';
    if (c.listeningAt === undefined) return 'starting';
    if (c.recoveredAt !== undefined || (this.activeBySet && c.n === 0)) return 'active';
    return 'stale';
  }

  /** Starts a new incarnation (the StatefulSet controller recreating the pod). */
  start(): Incarnation {
    const n = this.incarnations.length;
    const child = spawn(
      process.execPath,
      ['--conditions=@contrast-cc/source', '--import', register, COORDINATOR_MAIN],
      {
        env: {
          ...process.env,
          ...this.#o.env,
          CONTRAST_API_PORT: String(this.apiPort),
          CONTRAST_PEERS: this.#o.peerPorts.map((p) => `127.0.0.1:${p}`).join(','),
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    live.add(child);
    child.on('exit', () => live.delete(child));
    const log = createWriteStream(path.join(this.#o.logDir, `${this.name}.${n}.log`));
    this.#logs.push(log);
    const inc: Incarnation = {
      n,
      child,
      startedAt: this.#o.clock(),
      problems: [],
      killed: false,
      exited: new Promise((resolve) => {
        child.on('exit', (code, signal) => {
          inc.exitedWith = signal ?? code;
          resolve(signal ?? code);
        });
      }),
    };
    let buffered = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      log.write(chunk);
      buffered += chunk.toString();
      const parts = buffered.split('\n');
      buffered = parts.pop()!;
      for (const text of parts) this.#line(inc, text);
    });
    child.stderr!.on('data', (chunk: Buffer) => {
      log.write(chunk);
      inc.problems.push(`stderr: ${chunk.toString().trim().slice(0, 500)}`);
    });
    this.incarnations.push(inc);
    return inc;
  }

  #line(inc: Incarnation, text: string): void {
    let line: Record<string, unknown>;
    try {
      line = JSON.parse(text) as Record<string, unknown>;
    } catch {
      line = { msg: text };
    }
    if (line.msg === 'listening') {
      inc.listeningAt = this.#o.clock();
      inc.metricsPort = line.metricsPort as number;
    } else if (line.msg === 'recovered from a peer Coordinator') {
      inc.recoveredAt = this.#o.clock();
      inc.recoveredFrom = String(line.peer);
    } else if (line.level === 'warn' || line.level === 'error') {
      if (!String(line.msg).startsWith('INSECURE')) inc.problems.push(`${line.level}: ${String(line.msg)}`);
    }
    this.#o.onLine?.(this, line);
  }

  /** SIGKILL of the current incarnation; resolves when it is gone. */
  async kill(): Promise<void> {
    const c = this.current;
    if (!c) return;
    c.killed = true;
    c.child.kill('SIGKILL');
    await c.exited;
  }

  /** Kills every incarnation still running and closes the log files (idempotent). */
  async stop(): Promise<void> {
    for (const inc of this.incarnations) {
      if (inc.exitedWith === undefined) {
        inc.killed = true;
        inc.child.kill('SIGKILL');
      }
    }
    await Promise.all(this.incarnations.map((i) => i.exited));
    await Promise.all(this.#logs.map((l) => new Promise<void>((resolve) => l.end(() => resolve()))));
  }

  /** The readiness probe of the current incarnation (the kubelet's view); false when unreachable. */
  ready(timeoutMs = 2000): Promise<boolean> {
    const port = this.current?.metricsPort;
    if (port === undefined) return Promise.resolve(false);
    return new Promise((resolve) => {
      const req = request(
        { host: '127.0.0.1', port, path: '/probe/readiness', agent: false, timeout: timeoutMs },
        (res) => {
          res.resume();
          resolve(res.statusCode === 200);
        },
      );
      req.on('timeout', () => req.destroy());
      req.on('error', () => resolve(false));
      req.end();
    });
  }
}
