import { type Command, CommanderError } from 'commander';
import { EXIT_CODES, isEsError } from '../core/errors.js';
import { redact } from '../core/secrets.js';
import { buildProgram } from './program.js';
import { checkRawArguments } from './raw-args.js';
import { classifyError } from '../drivers/errors.js';

const SIGNAL_EXIT: Record<string, number> = { SIGINT: 130, SIGTERM: 143 };

function exitCodeOf(error: unknown): number {
  if (error instanceof CommanderError) {
    if (error.code === 'commander.helpDisplayed' || error.code === 'commander.version') return 0;
    // Help shown because no command was given (`es`, `es project`) is a usage error; `es help` is not.
    if (error.code === 'commander.help') return error.exitCode === 0 ? 0 : 2;
    return 2;
  }
  // A driver's own error (a damaged or busy store, a server gone), as each driver classifies it.
  const known = classifyError(error);
  if (known) return EXIT_CODES[known.code];
  if (isEsError(error)) {
    if (error.code === 'INTERRUPTED') return SIGNAL_EXIT[String(error.details?.signal)] ?? 130;
    return EXIT_CODES[error.code];
  }
  return 1;
}

/** The one place that turns an error into a message and an exit code. */
export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  const configure = (command: Command): void => {
    command.exitOverride();
    command.configureOutput({
      // One line: commander's "(Did you mean …?)" suggestion joins the message.
      outputError: (text, write) =>
        write(
          `${text
            .replace(/^error: /, 'es: ')
            .replace(/\n\(Did you mean (.*)\)/, ' (did you mean $1)')
            .trimEnd()}\n`,
        ),
    });
    command.commands.forEach(configure);
  };
  configure(program);
  const verbose = argv.includes('--verbose');
  const jsonLog = argv.some((arg, i) => arg === '--log-format=json' || (arg === '--log-format' && argv[i + 1] === 'json'));
  const fail = (raw: string, code: string): void => {
    const message = redact(raw);
    if (jsonLog) process.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), level: 'error', msg: message, code })}\n`);
    else process.stderr.write(`es: ${message}\n`);
  };
  try {
    if (argv === process.argv) checkRawArguments();
    await program.parseAsync(argv);
    return 0;
  } catch (error) {
    const code = exitCodeOf(error);
    if (error instanceof CommanderError) {
      if (error.code === 'commander.help' && code !== 0) fail('missing command (the help above lists them)', 'USAGE');
      return code;
    }
    if (isEsError(error)) {
      if (!error.details?.reported) fail(error.message, error.code);
    } else {
      const known = classifyError(error);
      if (known) fail(known.message, known.code);
      else fail(`unexpected error: ${(error as Error)?.message ?? String(error)}`, 'UNEXPECTED');
    }
    if (verbose && error instanceof Error && error.stack) process.stderr.write(`${redact(error.stack)}\n`);
    return code;
  }
}
