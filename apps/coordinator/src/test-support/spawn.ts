import { type ChildProcess, spawn } from 'node:child_process';
import { createRequire } from 'node:module';

/** The shared TypeScript loader for child processes (tools/build-config/ts-register.mjs). */
const register = createRequire(import.meta.url).resolve('@contrast-cc/build-config/ts-register');

/** A program started as a separate process, with its JSON log lines collected. */
export interface Spawned {
  child: ChildProcess;
  /** Parsed JSON log lines so far (a line that is not JSON becomes `{ msg: line }`). */
  lines: Record<string, unknown>[];
  stderr: string[];
  /** Resolves with the first log line matching. */
  waitFor(match: (line: Record<string, unknown>) => boolean, ms?: number): Promise<Record<string, unknown>>;
  exited: Promise<number | NodeJS.Signals | null>;
}

/** A program of this repo started from its TypeScript sources, as a separate process. */
export function spawnTs(script: string, env: Record<string, string>): Spawned {
  const child = spawn(process.execPath, ['--conditions=@contrast-cc/source', '--import', register, script], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return watchProcess(child);
}

/**
 * Collects the log lines (stdout, one JSON object a line) and stderr of any child process started
 * with piped stdout and stderr; `label` names it in the errors of `waitFor`.
 */
export function watchProcess(child: ChildProcess, label = 'the process'): Spawned {
  const lines: Record<string, unknown>[] = [];
  const stderr: string[] = [];
  const waiters: {
    match: (l: Record<string, unknown>) => boolean;
    resolve: (l: Record<string, unknown>) => void;
  }[] = [];
  let buffered = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    buffered += chunk.toString();
    const parts = buffered.split('\n');
    buffered = parts.pop()!;
    for (const text of parts) {
      let line: Record<string, unknown>;
      try {
        line = JSON.parse(text) as Record<string, unknown>;
      } catch {
        line = { msg: text };
      }
      lines.push(line);
      for (const w of waiters.splice(0)) {
        if (w.match(line)) w.resolve(line);
        else waiters.push(w);
      }
    }
  });
  child.stderr!.on('data', (c: Buffer) => stderr.push(c.toString()));
  const exited = new Promise<number | NodeJS.Signals | null>((resolve) =>
    child.on('exit', (code, signal) => resolve(signal ?? code)),
  );
  return {
    child,
    lines,
    stderr,
    exited,
    // Generous: starting a Coordinator process from source took over 60 s in a .ci/run under
    // `stress --cpu 2` plus other builds (load 46). A real failure shows as an exit or a wrong line.
    waitFor(match, ms = 150_000) {
      const seen = lines.find(match);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`${label}: timed out waiting for a log line; stderr: ${stderr.join('')}`)),
          ms,
        );
        waiters.push({
          match,
          resolve: (l) => {
            clearTimeout(timer);
            resolve(l);
          },
        });
        exited.then((code) => {
          clearTimeout(timer);
          reject(
            new Error(`${label} exited (${String(code)}) before the log line; stderr: ${stderr.join('')}`),
          );
        });
      });
    },
  };
}

/** Waits for the "listening" log line of a server process (the Coordinator, the mesh proxy). */
export function waitListening(p: Spawned, ms?: number): Promise<Record<string, unknown>> {
  return p.waitFor((l) => l.msg === 'listening', ms);
}
