#!/usr/bin/env node
// Copies what webmon needs at run time from a built, pruned checkout (the working directory) to
// the directory given as argument: the root package.json, node_modules (workspace links stay
// relative links), every workspace's package.json with the entries of its "files" that exist, and
// this folder's health check. Type declarations, source maps and build info are left out.
// Used by docker/Dockerfile; run after `npm run build` and `npm prune --omit=dev`.
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';

const SKIP = /\.(d\.ts|d\.ts\.map|js\.map|tsbuildinfo)$/;

function workspaceDirs(root) {
  const { workspaces = [] } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  return workspaces.flatMap((pattern) => {
    if (!pattern.endsWith('/*')) return [pattern];
    const parent = pattern.slice(0, -2);
    return readdirSync(join(root, parent), { withFileTypes: true })
      .filter((d) => d.isDirectory())
      .map((d) => join(parent, d.name));
  }).filter((dir) => existsSync(join(root, dir, 'package.json')));
}

function copy(from, to) {
  mkdirSync(dirname(to), { recursive: true });
  cpSync(from, to, { recursive: true, verbatimSymlinks: true, filter: (src) => !SKIP.test(src) });
}

const out = process.argv[2];
if (!out) {
  process.stderr.write('usage: node docker/runtime-tree.mjs OUT_DIR\n');
  process.exit(2);
}
const root = process.cwd();
for (const entry of ['package.json', 'node_modules', 'docker/healthcheck.mjs']) copy(join(root, entry), join(out, entry));
for (const dir of workspaceDirs(root)) {
  const manifest = JSON.parse(readFileSync(join(root, dir, 'package.json'), 'utf8'));
  for (const entry of ['package.json', ...(manifest.files ?? [])]) {
    if (existsSync(join(root, dir, entry))) copy(join(root, dir, entry), join(out, dir, entry));
  }
}
