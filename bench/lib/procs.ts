// Child processes of a bench run: started pinned to a core with `taskset`, every one tracked, all
// stopped at the end, on Ctrl-C and on errors. Nothing outlives the run.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { once } from 'node:events';

export interface Proc {
  readonly name: string;
  readonly child: ChildProcess;
  readonly pid: number;
  /** Everything the process wrote (stdout+stderr), last 64 KiB, for error messages. */
  output(): string;
  /** Resolves with the first stdout line matching `re` (rejects on exit or after `timeoutMs`). */
  waitForLine(re: RegExp, timeoutMs: number): Promise<RegExpMatchArray>;
  /** Calls `fn` for every complete stdout line from now on. */
  onLine(fn: (line: string) => void): void;
  stop(signal?: NodeJS.Signals, graceMs?: number): Promise<void>;
  /** Writes a line to the process's stdin (only when started with `stdin: true`). */
  send(line: string): void;
  readonly exited: Promise<number | null>;
}

const live = new Set<Proc>();
let pinning: boolean | undefined;

/** True when taskset exists and the machine has at least 2 cores (else children run unpinned). */
export function canPin(): boolean {
  if (pinning === undefined) {
    pinning = availableParallelism() >= 2 && spawnSync('taskset', ['-V']).status === 0;
  }
  return pinning;
}

/** Pins the current process (all threads) to `core`; the orchestrator shares core 0 with the load generator. */
export function pinSelf(core: number): void {
  if (canPin()) spawnSync('taskset', ['-a', '-p', '-c', String(core), String(process.pid)], { stdio: 'ignore' });
}

export interface StartOptions {
  /** A core, a taskset core list ("0,1"), or null: not pinned. */
  readonly core: number | string | null;
  readonly env?: NodeJS.ProcessEnv;
  readonly cwd?: string;
  /** Keep the last N bytes of output (default 64 KiB). */
  readonly keepBytes?: number;
  /** Give the process a stdin pipe (for send()). */
  readonly stdin?: boolean;
}

export function start(name: string, command: string, args: readonly string[], options: StartOptions): Proc {
  const pinned = options.core !== null && canPin();
  const file = pinned ? 'taskset' : command;
  const argv = pinned ? ['-c', String(options.core), command, ...args] : [...args];
  const child = spawn(file, argv, {
    cwd: options.cwd,
    env: options.env ?? process.env,
    stdio: [options.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'],
  });
  if (child.pid === undefined) throw new Error(`could not start ${name} (${command})`);
  const keep = options.keepBytes ?? 65536;
  let out = '';
  let partial = '';
  const lineListeners: ((line: string) => void)[] = [];
  const append = (chunk: Buffer): void => {
    out += chunk.toString('utf8');
    if (out.length > keep) out = out.slice(out.length - keep);
  };
  child.stdout!.on('data', (chunk: Buffer) => {
    append(chunk);
    partial += chunk.toString('utf8');
    let nl: number;
    while ((nl = partial.indexOf('\n')) !== -1) {
      const line = partial.slice(0, nl);
      partial = partial.slice(nl + 1);
      for (const fn of lineListeners) fn(line);
    }
  });
  child.stderr!.on('data', append);
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code, signal) => {
      live.delete(proc);
      resolve(code ?? (signal ? -1 : null));
    });
    child.once('error', () => {
      live.delete(proc);
      resolve(-1);
    });
  });
  let done = false;
  void exited.then(() => (done = true));

  const proc: Proc = {
    name,
    child,
    pid: child.pid,
    exited,
    output: () => out,
    send(line) {
      child.stdin?.write(`${line}\n`);
    },
    onLine(fn) {
      lineListeners.push(fn);
    },
    waitForLine(re, timeoutMs) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`${name}: no line matching ${re} within ${timeoutMs} ms\n${out.slice(-4000)}`)), timeoutMs);
        // Lines already printed are in `out`; check them first.
        for (const line of out.split('\n')) {
          const m = line.match(re);
          if (m) {
            clearTimeout(timer);
            resolve(m);
            return;
          }
        }
        lineListeners.push((line) => {
          const m = line.match(re);
          if (m) {
            clearTimeout(timer);
            resolve(m);
          }
        });
        void exited.then((code) => {
          clearTimeout(timer);
          reject(new Error(`${name} exited (${code}) before printing ${re}\n${out.slice(-4000)}`));
        });
      });
    },
    async stop(signal = 'SIGTERM', graceMs = 5000) {
      if (done) return;
      child.kill(signal);
      const timer = setTimeout(() => {
        if (!done) child.kill('SIGKILL');
      }, graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
  live.add(proc);
  return proc;
}

/** Stops every process still running (SIGTERM, then SIGKILL after a grace period). */
export async function stopAll(): Promise<void> {
  await Promise.all([...live].map((p) => p.stop()));
}

/** Synchronous last resort (process 'exit' handler): SIGKILL whatever is left. */
function killAllNow(): void {
  for (const p of live) {
    try {
      p.child.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
}

let installed = false;
/** Ctrl-C / SIGTERM / uncaught errors: stop all children, run `cleanup`, exit non-zero. */
export function installCleanup(cleanup: () => Promise<void> | void): void {
  if (installed) return;
  installed = true;
  let stopping = false;
  const bail = async (why: string, code: number): Promise<void> => {
    if (stopping) return;
    stopping = true;
    console.error(`\nbench: ${why}; stopping ${live.size} child process(es)...`);
    await stopAll().catch(() => {});
    await Promise.resolve(cleanup()).catch(() => {});
    process.exit(code);
  };
  process.on('SIGINT', () => void bail('interrupted', 130));
  process.on('SIGTERM', () => void bail('terminated', 143));
  process.on('uncaughtException', (err) => {
    console.error(err);
    void bail('uncaught exception', 1);
  });
  process.on('unhandledRejection', (err) => {
    console.error(err);
    void bail('unhandled rejection', 1);
  });
  process.on('exit', killAllNow);
}

/** Waits for `ms` (bench pacing only; readiness is always polled, never slept on). */
export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export { once };
