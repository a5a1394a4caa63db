/**
 * The Node.js options webmon's processes run with. `npm start` (package.json) and the container
 * image's ENTRYPOINT (docker/Dockerfile) pass them, and `webmon up` adds any its own process lacks
 * to the executors it forks. The `webmon` command cannot (its first line is a plain `env node`:
 * BusyBox's env has no `-S`); a process started that way, or as `node …/main.js`, gets them from
 * NODE_OPTIONS. node-flags.test.ts keeps the launchers in step with this list.
 *
 * `--max-semi-space-size=32` (MB): V8's young generation, where a check's short-lived objects
 * (sockets, parsers, results, Redis replies) are born and mostly die. At the default (16 MB
 * semi-spaces on a 64-bit Node 20) an executor at full load spent 14 % of its CPU in the garbage
 * collector; at 32 MB, 9.7 % (bench/README.md, "Young generation"). It is a ceiling the heap
 * grows to under allocation pressure, not a reservation: an idle process stays small.
 */
export const NODE_FLAGS: readonly string[] = ['--max-semi-space-size=32'];

/** `execArgv` with every flag of NODE_FLAGS whose option it (or NODE_OPTIONS) does not set already. */
export function withNodeFlags(execArgv: readonly string[], nodeOptions = process.env.NODE_OPTIONS ?? ''): string[] {
  const given = [...execArgv, ...nodeOptions.split(/\s+/)].map(optionName);
  return [...execArgv, ...NODE_FLAGS.filter((flag) => !given.includes(optionName(flag)))];
}

/** `--max-semi-space-size` of `--max-semi-space-size=32` (V8 accepts `_` for `-` too). */
function optionName(arg: string): string {
  return arg.split('=')[0]!.replaceAll('_', '-');
}
