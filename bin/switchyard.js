#!/usr/bin/env node
// The `switchyard` command. Needs Node.js 24+ (TypeScript is run by Node's type stripping):
// `npm exec switchyard -- --help` in this repository brings the right Node; a global install
// needs `node --version` >= 24.
const [major] = process.versions.node.split('.').map(Number);
if (major < 24) {
  process.stderr.write(`switchyard: Node.js 24 or newer is required (this is ${process.version})\n`);
  process.exit(2);
}
// V8 flags must be there when the process starts (a shebang cannot pass them portably), so the
// first start re-executes itself with them: same pid, same stdio, signals unchanged, no wrapper
// process (src/node-flags.ts says which flags and why).
const { missingNodeFlags } = await import('../src/node-flags.ts');
const missing = missingNodeFlags(process.execArgv, process.env.NODE_OPTIONS);
if (missing.length > 0 && typeof process.execve === 'function') {
  process.execve(process.execPath, [process.execPath, ...missing, ...process.execArgv, ...process.argv.slice(1)]);
}
const { cli } = await import('../src/main.ts');
await cli(process.argv.slice(2));
