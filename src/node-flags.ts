// The V8 flags Switchyard runs with, and which of them a process still lacks. bin/switchyard.js
// re-executes itself with the missing ones (V8 sizes its heap when the process starts:
// v8.setFlagsFromString() afterwards does not change the young generation), the Dockerfile and
// `npm run controller` start through bin/switchyard.js, and the bench starts the controller the
// same way, so every way of running it has the same memory profile.

/**
 * A young generation of at most 16 MiB per semi-space. V8's default is sized from the machine's
 * RAM (64 MiB per semi-space on a 24 GiB host, less in a small container), so without a flag RSS
 * depended on the host: 332-336 MiB at 10,000 Ingresses / 50,000 endpoints vs 248-256 MiB with
 * 16 (bench/PROFILE.md section 6, with the throughput and instruction-count cost measured).
 */
export const SHIPPED_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=16'];

/** The flag's name: `--max-semi-space-size=16` -> `--max-semi-space-size` (V8 also accepts `_`). */
function flagName(flag: string): string {
  return flag.split('=')[0].replaceAll('_', '-');
}

/**
 * The shipped flags that neither the command line's node options (`execArgv`) nor NODE_OPTIONS
 * set. A value the user chose (any value, including 0 = V8's default) wins over the shipped one.
 */
export function missingNodeFlags(execArgv: readonly string[], nodeOptions: string | undefined): string[] {
  const given = new Set([...execArgv, ...(nodeOptions ?? '').split(/\s+/)].filter((a) => a.startsWith('--')).map(flagName));
  return SHIPPED_NODE_FLAGS.filter((flag) => !given.has(flagName(flag)));
}
