import { Command, Option } from 'commander';
import type { CommandFlags, Context } from './context.js';
import { packageVersion } from './version.js';

type Handler = (ctx: Context, ...args: any[]) => Promise<void>;

/** Commands load their module only when they run, so `es --help` and `es append` start fast. */
function action(load: () => Promise<Handler>) {
  return async (...args: unknown[]): Promise<void> => {
    const command = args[args.length - 1] as Command;
    const flags = command.optsWithGlobals<CommandFlags>();
    const positional = args.slice(0, -2);
    const { Context } = await import('./context.js');
    const ctx = await Context.create(flags);
    try {
      const handler = await load();
      await handler(ctx, ...positional, command.opts());
    } finally {
      await ctx.close();
    }
  };
}

const json = () => new Option('--json', 'print JSON on stdout (logs go to stderr)');
const batchSize = () => new Option('--batch-size <n>', 'events per transaction (default 1000)');
const wait = () => new Option('--wait <duration>', 'wait up to this long in all (one deadline for the command) for other runners to let go (e.g. 30s)');
const republish = () =>
  new Option('--republish', 'allowed to publish again what a publishing projection published already (its consumers get the events twice)');
const lease = () =>
  new Option(
    '--lease <duration>',
    'lease on each projection worked on, renewed every third of it; a dead holder blocks others this long (default 30s, at least 5s)',
  );
const onError = () =>
  new Option('--on-error <mode>', 'stop: a failing handler faults the projection; skip: dead-letter the event and go on').choices(['stop', 'skip']);

export function buildProgram(): Command {
  const program = new Command('es')
    .description('Catch-up projections for event-sourced systems: read models built from the event log itself.')
    .version(packageVersion(), '-V, --version')
    // Before the commands are added: they copy the help settings, and list the global options too.
    .configureHelp({ showGlobalOptions: true })
    .helpCommand(false)
    .option('--db <url>', 'event store: sqlite:<path>, a file path, or postgres://user@host/db (env ES_DB; default sqlite:.es/events.db)')
    .option('--projections <dir>', 'projections folder (env ES_PROJECTIONS; default ./projections)')
    .option('--config <file>', 'configuration file (default ./es.config.json)')
    .option('-q, --quiet', 'print nothing but errors')
    .option('--verbose', 'show stack traces with errors')
    .addOption(new Option('--log-format <format>', 'text, or json: one JSON log line per outcome on stderr').choices(['text', 'json']))
    .showSuggestionAfterError(true)
    .addHelpText('after', '\nExample:\n  $ es demo && es project status');
  // In the order `es --help` lists them.
  addHelpCommand(program);
  addEventCommands(program);
  const project = addProjectGroup(program);
  addWorkCommands(project);
  addInspectCommands(project);
  return program;
}

/** commander's own `help [command]` takes one name, so `es help project run` showed `es project`'s help. */
function addHelpCommand(program: Command): void {
  program
    .command('help')
    .description('display help for a command (e.g. es help project run)')
    .argument('[command...]', 'command and subcommand names')
    .action((names: string[]) => {
      let command = program;
      for (const name of names) {
        const next = command.commands.find((c) => c.name() === name || c.aliases().includes(name));
        if (!next) command.error(`error: unknown command '${[...names.slice(0, names.indexOf(name)), name].join(' ')}'`);
        command = next as Command;
      }
      command.help();
    });
}

/** append, import, read and demo: the event log itself. */
function addEventCommands(program: Command): void {
  program
    .command('append')
    .description('append one event to a stream and print its position')
    .argument('<stream>', 'stream id (not starting with $)')
    .argument('<type>', 'event type')
    .argument('[json]', 'event data, a JSON object', undefined)
    .option('--expected-version <n>', 'stream version required: a number, any or no-stream')
    .option('--metadata <json>', 'event metadata, a JSON object')
    .addOption(json())
    .addHelpText('after', `\nExample:\n  $ es append order-1 OrderPlaced '{"total": 42}' --expected-version no-stream`)
    .action(action(async () => (await import('./commands/append.js')).append));

  program
    .command('import')
    .description('append many events from NDJSON or CSV, all or nothing')
    .argument('<file>', 'file to read, or - for standard input')
    .addOption(
      new Option('--format <format>', 'input format (default: from the extension, .csv or .csv.gz is CSV; gzip is read by its first bytes)').choices([
        'ndjson',
        'csv',
      ]),
    )
    .option('--stream-column <name>', 'CSV: column holding the stream id')
    .option('--type-column <name>', 'CSV: column holding the event type')
    .option('--id-column <name>', 'CSV: column holding a unique event id (makes re-imports idempotent)')
    .addOption(json())
    .addHelpText('after', `\nExample:\n  $ es import examples/receipt.csv.gz --stream-column 'case:concept:name' --type-column 'concept:name'`)
    .action(action(async () => (await import('./commands/import.js')).importEvents));

  program
    .command('read')
    .description('print events in position order')
    .option('--stream <id>', 'only this stream (system streams too)')
    .option('--from <position>', 'first position to print')
    .option('--limit <n>', 'at most this many events')
    .option('--include-system', 'include system streams ($checkpoint-…)')
    .addOption(json())
    .addHelpText('after', "\nExample:\n  $ es read --stream '$checkpoint-order-summary' --json")
    .action(action(async () => (await import('./commands/read.js')).read));

  program
    .command('demo')
    .description('write a sample shop event log into the store and run every projection')
    .addHelpText('after', '\nExample:\n  $ es demo && es project status')
    .action(action(async () => (await import('./commands/demo.js')).demo));
}

/** `es project`, with its first subcommand, list. */
function addProjectGroup(program: Command): Command {
  const project = program
    .command('project')
    .description('run and inspect projections')
    .addHelpText(
      'after',
      '\nExamples:\n' +
        '  $ es project run                                # catch every projection up, then stop (cron)\n' +
        '  $ es project status --max-lag 0 --max-age 5m    # in CI: exit 1 when one lags, faulted or is stale\n' +
        '  $ es project rebuild order-summary              # empty its read model and replay the log',
    );

  project
    .command('list')
    .description('list the projections found in the projections folder')
    .addOption(json())
    .addHelpText('after', '\nExample:\n  $ es project list --json')
    .action(action(async () => (await import('./commands/project/list.js')).list));
  return project;
}

/** run, rebuild and replay-from: the commands that run projections. */
function addWorkCommands(project: Command): void {
  project
    .command('run')
    .description('catch projections up from their checkpoints to the head of the log')
    .argument('[names...]', 'projections to run (default: all)')
    .option('--follow', 'keep running as new events arrive (stop with SIGINT/SIGTERM)')
    .addOption(batchSize())
    .addOption(wait())
    .addOption(lease())
    .addOption(onError())
    .addOption(json())
    .addHelpText('after', '\nExamples:\n  $ es project run\n  $ es project run order-summary --follow')
    .action(action(async () => (await import('./commands/project/run.js')).run));

  project
    .command('rebuild')
    .description('empty the read model and the checkpoint, then replay from the first event (--shadow: build beside the live one)')
    .argument('[names...]', 'projections to rebuild')
    .option('--all', 'rebuild every projection')
    .option('--shadow', 'build a new read model beside the live one, which stays untouched; swap it in with es project promote')
    .option('--follow', 'with --shadow: keep the shadow following the live projection (stop with SIGINT/SIGTERM)')
    .addOption(republish())
    .addOption(batchSize())
    .addOption(wait())
    .addOption(lease())
    .addOption(onError())
    .addOption(json())
    .addHelpText(
      'after',
      '\nExamples:\n  $ es project rebuild order-summary\n  $ es project rebuild order-summary --shadow --follow   # then: es project promote order-summary',
    )
    .action(action(async () => (await import('./commands/project/run.js')).rebuild));

  project
    .command('promote')
    .description("swap a shadow in: catch it up under the live projection's lease, then make its tables the live ones in one transaction")
    .argument('<names...>', 'projections whose shadow to promote')
    .option('--max-lag <n>', 'refuse a shadow more than n events behind the head (default 10000)')
    .addOption(batchSize())
    .addOption(lease())
    .addOption(json())
    .addHelpText('after', '\nExample:\n  $ es project promote order-summary --max-lag 1000')
    .action(action(async () => (await import('./commands/project/shadow.js')).promote));

  project
    .command('drop-shadow')
    .description("remove a shadow's tables and checkpoint")
    .argument('<names...>', 'projections whose shadow to drop')
    .addOption(wait())
    .addOption(json())
    .action(action(async () => (await import('./commands/project/shadow.js')).dropShadows));

  project
    .command('verify')
    .description('rebuild beside the live read model up to the live position and compare every table row by row; exit 1 when they differ')
    .argument('<names...>', 'projections to verify')
    .option('--keep', 'keep the rebuilt copy as the shadow (then es project promote can swap it in)')
    .addOption(batchSize())
    .addOption(wait())
    .addOption(lease())
    .addOption(json())
    .addHelpText('after', '\nExample (crontab, nightly):\n  30 3 * * *  cd /srv/app && npx es project verify order-summary --quiet')
    .action(action(async () => (await import('./commands/project/shadow.js')).verify));

  project
    .command('replay-from')
    .description('move the checkpoint back (or on) to a position and run from there; the read model is kept')
    .argument('<name>', 'projection')
    .argument('<position>', 'the first position to process again')
    .addOption(republish())
    .addOption(batchSize())
    .addOption(wait())
    .addOption(lease())
    .addOption(onError())
    .addOption(json())
    .addHelpText('after', '\nExample:\n  $ es project replay-from order-summary 1200')
    .action(action(async () => (await import('./commands/project/run.js')).replay));
}

/** status, prune-handled and wait: the commands that look after projections without running them. */
function addInspectCommands(project: Command): void {
  project
    .command('status')
    .description('one row per projection; exits 1 when any is unhealthy')
    .argument('[names...]', 'projections to show (default: all)')
    .option('--max-lag <n>', 'unhealthy when more than n events wait')
    .option('--max-age <duration>', 'unhealthy when the oldest waiting event is older (30s, 5m, 2h, 1d)')
    .addOption(json())
    .addOption(
      new Option('--format <format>', 'table, or prometheus: text exposition 0.0.4 for node_exporter (exit code as for table)').choices([
        'table',
        'prometheus',
      ]),
    )
    .option('--watch', 'on a terminal, redraw the table every second until Ctrl-C (exit 0)')
    .addHelpText(
      'after',
      '\nExamples:\n  $ es project status --max-lag 100 --max-age 5m --json\n  $ es project status --format prometheus > es.prom.tmp; mv es.prom.tmp es.prom\n  $ es project status --watch',
    )
    .action(action(async () => (await import('./commands/project/status.js')).status));

  project
    .command('prune-handled')
    .description('remove handled event ids older than --older-than and at or below the checkpoint, from targets')
    .argument('[names...]', 'projections with a target (default: all that have one)')
    .option('--older-than <duration>', 'only ids recorded longer ago than this (default 7d)')
    .addOption(json())
    .addHelpText(
      'after',
      '\nIds above the checkpoint are never removed. Deletes in chunks of 5,000 rows.\n' +
        '\nExample (crontab, nightly):\n  15 3 * * *  cd /srv/app && npx es project prune-handled --older-than 7d --quiet',
    )
    .action(action(async () => (await import('./commands/project/prune-handled.js')).pruneHandledCommand));

  project
    .command('wait')
    .description('block until projections reach the head as it was at the start (or --position); runs nothing itself')
    .argument('[names...]', 'projections to wait for (default: all)')
    .option('--timeout <duration>', 'give up after this long, exit 1 (default: wait for ever)')
    .option('--position <n>', 'the position to reach instead of the current head')
    .addOption(json())
    .addHelpText(
      'after',
      '\nExit 0 when all got there; 1 on timeout or when one is faulted or stale-version.\n' +
        '\nExamples:\n  $ es project wait --timeout 60s\n  $ es project wait order-summary --position "$(es append order-1 OrderPlaced)" --timeout 10s',
    )
    .action(action(async () => (await import('./commands/project/wait.js')).wait));
}
