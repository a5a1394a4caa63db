/**
 * The command line: commands, options and help (commander). Exit codes: 0 done, 1 a failure at
 * run time (no answer, a refused item), 2 a usage or configuration error, reported in one line
 * with a short usage on stderr, never a stack trace.
 */
import { readFileSync } from 'node:fs';
import { Command, CommanderError, Option } from 'commander';
import { SNAPSHOT_NOW_WAIT_MS, configEnvVars, loadConfig } from '@webmon/core';
import type { StatusOutput } from './control.js';
import { EXECUTOR_CHILD_COMMAND } from './executors.js';

/** This package's version (packages/cli/package.json). */
export function cliVersion(): string {
  try {
    return String((JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version?: unknown }).version);
  } catch {
    return 'unknown';
  }
}

const ENV_NOTE = `
Every configuration option can also be set with an environment variable, e.g.
WEBMON_API_PORT=9000; \`webmon env\` lists them with their defaults. Logs are
readable lines on a terminal, JSON otherwise (WEBMON_LOG_FORMAT=json|pretty).`;

/** Global options, on every command. */
interface Globals {
  config?: string;
}

type Exit = (code: number) => void;

function configOf(cmd: Command) {
  return loadConfig({ file: cmd.optsWithGlobals<Globals>().config });
}

/** Sends `command` on the control channel of the dispatcher the configuration names. */
async function ask(cmd: Command, command: string, timeoutMs?: number, output?: StatusOutput): Promise<number> {
  const [{ control }, { withLocalCurve }] = await Promise.all([import('./control.js'), import('./curve.js')]);
  return control(await withLocalCurve(configOf(cmd), false), command, timeoutMs, output);
}

/** A short usage for errors: the command's synopsis and where its help is. */
function shortUsage(cmd: Command): string {
  const name = cmd.parent ? `webmon ${cmd.name()}` : 'webmon';
  return `usage: ${name} ${cmd.usage()}\n(\`${name} --help\` for more)`;
}

function roleCommands(program: Command, exit: Exit): void {
  program
    .command('up')
    .description('run api, dispatcher and executors in one go')
    .addOption(new Option('--executors <N>', 'executor processes (default: executor.processes, else one per core)'))
    .addHelpText(
      'after',
      `
Starts a local redis-server under <dataDir>/redis unless redis.url is configured.
The first executor runs in this process, the others as child processes that are
restarted if they die.`,
    )
    .action(async (opts: { executors?: string }, cmd: Command) => {
      const config = configOf(cmd);
      const { executorCount, runRoles } = await import('./roles.js');
      exit(await runRoles(config, ['dispatcher', 'executor', 'api'], executorCount(config, opts.executors)));
    });
  for (const [role, what, more] of [
    ['api', 'run the REST API only', 'Listens on api.host:api.port; sends job ids to zmq.frontend.'],
    ['dispatcher', 'run the dispatcher only', 'Binds zmq.frontend, zmq.backend and zmq.control.'],
    ['executor', 'run one executor (start as many as you like)', 'Connects to zmq.backend.'],
  ] as const) {
    program
      .command(role)
      .description(what)
      .addHelpText('after', `\n${more}`)
      .action(async (_opts: unknown, cmd: Command) => {
        const config = configOf(cmd);
        const { runRoles } = await import('./roles.js');
        exit(await runRoles(config, [role]));
      });
  }
  program.command(EXECUTOR_CHILD_COMMAND, { hidden: true }).action(async () => {
    const { runExecutorChild } = await import('./roles.js');
    exit(await runExecutorChild());
  });
}

function clientCommands(program: Command, exit: Exit): void {
  program
    .command('apply')
    .description("monitors as code: make a client's assets and channels those of a file")
    .addOption(new Option('-f, --file <FILE>', 'YAML or JSON list of assets, or {client, assets, channels}'))
    .addOption(new Option('--api <URL>', 'the REST API (default: $WEBMON_API_URL, else api.host:api.port)'))
    .addOption(new Option('--key <KEY>', 'API key (default: $WEBMON_API_KEY, else the admin key)'))
    .addOption(new Option('--client <ID>', "the client whose assets these are (default: the file's client:, else the key's)"))
    .addHelpText('after', `\nAdds, updates and removes assets and channels; idempotent. Nothing is removed\nwhile an item is refused. \${NAME} in a channel is the environment variable NAME.`)
    .action(async (opts: { file?: string; api?: string; key?: string; client?: string }, cmd: Command) => {
      const config = configOf(cmd);
      const { apply } = await import('./apply.js');
      exit(await apply(config, { file: opts.file, api: opts.api, key: opts.key, client: opts.client }));
    });
  program
    .command('status')
    .description('show the status of a running dispatcher')
    .addOption(new Option('--json', "print the dispatcher's JSON reply (the default when stdout is not a terminal)").conflicts('table'))
    .addOption(new Option('--table', 'print a table (the default on a terminal)'))
    .addHelpText('after', '\nUses <dataDir>/curve.json, written by `webmon up`, when no zmq.curve keys are\nset.')
    .action(async (opts: { json?: boolean; table?: boolean }, cmd: Command) => {
      const output: StatusOutput = opts.json ? 'json' : opts.table ? 'table' : 'auto';
      exit(await ask(cmd, 'STATUS', 5000, output));
    });
  program
    .command('ping')
    .description('check that the dispatcher answers (prints PONG)')
    .addHelpText('after', '\nSends PING on the control channel (zmq.control).')
    .action(async (_opts: unknown, cmd: Command) => exit(await ask(cmd, 'PING')));
  program
    .command('snapshot')
    .description('make Redis write an RDB snapshot now')
    .addHelpText('after', '\nSends SNAPSHOT NOW on the control channel; prints OK <LASTSAVE> once the\nsnapshot is written.')
    .action(async (_opts: unknown, cmd: Command) => exit(await ask(cmd, 'SNAPSHOT NOW', SNAPSHOT_NOW_WAIT_MS)));
}

function toolCommands(program: Command, exit: Exit): void {
  program
    .command('keys')
    .description('print a new CURVE key pair (for zmq.curve)')
    .action(async () => {
      const { curveKeyPair } = await import('zeromq');
      const pair = curveKeyPair();
      process.stdout.write(`public: ${pair.publicKey}\nsecret: ${pair.secretKey}\n`);
      exit(0);
    });
  program
    .command('env')
    .description('list the environment variables, with defaults')
    .action(() => {
      for (const v of configEnvVars()) process.stdout.write(`${v.env.padEnd(36)} ${v.default === undefined ? '(unset)' : JSON.stringify(v.default)}  ${v.description}\n`);
      exit(0);
    });
}

/**
 * The `webmon` program. `exit` receives the exit code of the command that ran; usage errors
 * reach the caller as a CommanderError (see runCli).
 */
export function buildProgram(exit: Exit): Command {
  const program = new Command('webmon')
    .usage('[options] <command>')
    .description('Plugin-based monitoring: REST API, ZeroMQ dispatcher, horizontally scalable executors, Redis state.')
    .version(cliVersion(), '-V, --version', 'print the version')
    .addOption(new Option('-c, --config <FILE>', 'YAML or JSON config file (default: $WEBMON_CONFIG, else ./webmon.yaml)'))
    .helpOption('-h, --help', 'show help')
    .helpCommand('help [command]', 'show help for a command')
    .configureHelp({ showGlobalOptions: true, styleTitle: (s) => `\x1b[1m${s}\x1b[22m` })
    .configureOutput({ outputError: (str, write) => write(`webmon: ${str.replace(/^error: /, '')}`) })
    .exitOverride();
  roleCommands(program, exit);
  clientCommands(program, exit);
  toolCommands(program, exit);
  for (const cmd of program.commands) cmd.showHelpAfterError(shortUsage(cmd));
  program.showHelpAfterError(shortUsage(program));
  program.addHelpText('after', ENV_NOTE);
  // No command, or one that does not exist: reached with the words given (commander has no
  // subcommand of that name).
  program.allowExcessArguments().action((_opts: unknown, cmd: Command) => {
    if (cmd.args.length === 0) {
      cmd.outputHelp({ error: true });
    } else {
      process.stderr.write(`webmon: unknown command ${JSON.stringify(cmd.args[0])}\n${shortUsage(program)}\n`);
    }
    exit(2);
  });
  return program;
}

/** Parses `argv` (the words after `webmon`) and runs the command; resolves its exit code. */
export async function runCli(argv: string[]): Promise<number> {
  let code = 0;
  const program = buildProgram((c) => {
    code = c;
  });
  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 2;
    throw err;
  }
  return code;
}
