#!/usr/bin/env node
// The `switchyard` command. Needs Node.js 24+ (TypeScript is run by Node's type stripping):
// `npm exec switchyard -- --help` in this repository brings the right Node; a global install
// needs `node --version` >= 24.
const [major] = process.versions.node.split('.').map(Number);
if (major < 24) {
  process.stderr.write(`switchyard: Node.js 24 or newer is required (this is ${process.version})\n`);
  process.exit(2);
}
const { cli } = await import('../src/main.ts');
await cli(process.argv.slice(2));
