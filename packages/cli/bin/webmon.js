#!/usr/bin/env node
// The installed `webmon` command (npm links it into node_modules/.bin, and into the global bin
// with `npm i -g .`). It exists before the build does, so npm can link it at install time; it
// runs the built CLI, or says how to build it. A plain `env node` line: `env -S` (to pass Node.js
// options) is missing from BusyBox's env; see src/node-flags.ts.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const main = new URL('../dist/main.js', import.meta.url);
if (!existsSync(fileURLToPath(main))) {
  process.stderr.write(`webmon: ${fileURLToPath(main)} is not built yet: run \`npm run build\` in the webmon checkout\n`);
  process.exit(1);
}
await import(main.href);
