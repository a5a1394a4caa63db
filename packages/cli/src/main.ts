#!/usr/bin/env node
/**
 * The `webmon` command: runs roles (all in one process with `up`, or one each for multi-host
 * deployments) and talks to a running dispatcher's control channel. Commands and options are in
 * program.ts.
 */
import { ConfigError } from '@webmon/core';
import { runCli } from './program.js';

runCli(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    if (err instanceof ConfigError) {
      process.stderr.write(`webmon: ${err.message}\n`);
      process.exit(2);
    }
    process.stderr.write(`webmon: ${(err as Error)?.stack ?? String(err)}\n`);
    process.exit(1);
  },
);
