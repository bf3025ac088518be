// What the demo starts, and how it stops all of it: child processes (the Coordinator) and
// in-process servers (workloads, mesh proxies). Every start registers its stop first thing, so a
// failure or a signal at any point stops what was started so far.
import { type ChildProcess, spawn } from 'node:child_process';
import { createServer, type Server } from 'node:net';

/** Stops registered in start order; `stopAll` runs them newest first, each at most once. */
export class Cleanup {
  readonly #stops: { name: string; stop: () => Promise<void> }[] = [];
  /** Pids of every child process started (for the summary and for tests). */
  readonly pids: number[] = [];

  add(name: string, stop: () => Promise<void>): void {
    this.#stops.push({ name, stop });
  }

  /** Removes one stop (after it ran) so stopAll does not run it again. */
  async run(name: string): Promise<void> {
    const i = this.#stops.findIndex((s) => s.name === name);
    if (i < 0) return;
    const [entry] = this.#stops.splice(i, 1);
    await entry!.stop();
  }

  /** Runs every remaining stop, newest first; returns how many ran and what failed. */
  async stopAll(): Promise<{ stopped: number; errors: string[] }> {
    const errors: string[] = [];
    let stopped = 0;
    while (this.#stops.length > 0) {
      const entry = this.#stops.pop()!;
      try {
        await entry.stop();
        stopped++;
      } catch (e) {
        errors.push(`${entry.name}: ${(e as Error).message}`);
      }
    }
    return { stopped, errors };
  }
}

/** Resolves when the child has exited (at once if it already has). */
function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

/** Stops a child: SIGTERM (or `signal`), then SIGKILL after `graceMs`. */
export async function stopChild(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM', graceMs = 5000) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const done = exited(child);
  child.kill(signal);
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await done;
  clearTimeout(timer);
}

/** A JSON line a served process printed on stdout (its ready line, then events). */
export type ProcessEvent = Record<string, unknown>;

/** A child process that listens: its ready line, its later stdout events and its stderr lines. */
export interface ServingProcess {
  child: ChildProcess;
  port: number;
  pid: number;
  /** The ready line (`{"port":N,...}`). */
  ready: ProcessEvent;
  /**
   * Resolves the first stdout event (after the ready line, earlier ones included) that matches;
   * rejects after `timeoutMs` or when the process exits first, naming `what`.
   */
  waitForEvent(match: (e: ProcessEvent) => boolean, what: string, timeoutMs: number): Promise<ProcessEvent>;
}

/**
 * Starts `node <args>` and waits for its first stdout line that parses as JSON with a `port`.
 * Later JSON lines on stdout are events ({@link ServingProcess.waitForEvent}); stderr lines are
 * its log, given to `onLog` one by one (the caller decides whether and when to show them). Its stdin stays open as a lifeline: if this process dies, the
 * child sees it close and stops.
 */
export async function spawnServing(
  command: string,
  args: readonly string[],
  options: { timeoutMs: number; cleanup: Cleanup; name: string; onLog?: (line: string) => void },
): Promise<ServingProcess> {
  const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'], windowsHide: true });
  if (child.pid === undefined) {
    const error = await new Promise<Error>((resolve) => child.once('error', resolve));
    throw new Error(`cannot start ${options.name}: ${error.message}`);
  }
  const pid = child.pid;
  options.cleanup.pids.push(pid);
  options.cleanup.add(options.name, () => stopChild(child));
  const events: ProcessEvent[] = [];
  const listeners = new Set<() => void>();
  const notify = () => {
    for (const l of [...listeners]) l();
  };
  lines(child.stderr, (line) => options.onLog?.(line));
  lines(child.stdout, (line) => {
    try {
      const parsed = JSON.parse(line) as unknown;
      if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) {
        events.push(parsed as ProcessEvent);
        notify();
      }
    } catch {
      // not an event
    }
  });
  // 'close': exited and its stdout read to the end (an event printed just before exiting counts).
  let closed = false;
  child.once('close', () => {
    closed = true;
    notify();
  });

  const waitForEvent = (
    match: (e: ProcessEvent) => boolean,
    what: string,
    timeoutMs: number,
  ): Promise<ProcessEvent> =>
    new Promise((resolve, reject) => {
      const check = () => {
        const found = events.find(match);
        if (found) {
          done();
          resolve(found);
        } else if (closed) {
          done();
          reject(
            new Error(
              `${options.name} exited (${child.signalCode ?? child.exitCode}) while waiting for its ${what}`,
            ),
          );
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`${options.name}: no ${what} within ${timeoutMs / 1000} s`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        listeners.delete(check);
      };
      listeners.add(check);
      check();
    });

  const ready = await waitForEvent(
    (e) => typeof e.port === 'number',
    'ready line (the port it listens on)',
    options.timeoutMs,
  );
  return { child, port: ready.port as number, pid, ready, waitForEvent };
}

/** Calls `onLine` with every complete line of a stream. */
function lines(stream: NodeJS.ReadableStream | null, onLine: (line: string) => void): void {
  let buffer = '';
  stream?.on('data', (b: Buffer) => {
    buffer += b.toString();
    let nl = buffer.indexOf('\n');
    while (nl >= 0) {
      onLine(buffer.slice(0, nl).replace(/\r$/, ''));
      buffer = buffer.slice(nl + 1);
      nl = buffer.indexOf('\n');
    }
  });
  stream?.on('end', () => {
    if (buffer) onLine(buffer);
    buffer = '';
  });
}

/** Listens on host:port (0: any free port); resolves the port. */
export function listen(server: Server, host: string, port = 0): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      const addr = server.address();
      resolve(typeof addr === 'object' && addr ? addr.port : port);
    });
  });
}

/** Closes a server and every connection it still has. */
export function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    if (!server.listening) return resolve();
    server.close(() => resolve());
  });
}

/**
 * The "pod address" the mesh proxies listen on, distinct from the workloads' 127.0.0.1:
 * 127.0.0.2 where the loopback has it (Linux, Windows), else ::1 (macOS has only 127.0.0.1).
 */
export async function podAddress(): Promise<string> {
  for (const host of ['127.0.0.2', '::1']) {
    const probe = createServer();
    try {
      await listen(probe, host);
      await closeServer(probe);
      return host;
    } catch {
      // not available here
    }
  }
  throw new Error('neither 127.0.0.2 nor ::1 can be bound: the mesh proxies need a second loopback address');
}
