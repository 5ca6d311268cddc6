import { Command, CommanderError } from 'commander';
import { InputError } from '../io/source';
import { EXIT, UsageError } from './common';
import { registerCheckCommand } from './check';
import { registerEventsCommand } from './events';
import { registerProbesCommand } from './probes';
import { registerRulesCommand } from './rules';
import { registerVerifyCommand } from './verify';
import { version } from '../version';
import { termText } from '../report/terminal';

export function buildProgram(): Command {
  const program = new Command();
  program
    .name('mntrace')
    .description('Check Linux kernel traces for mmu_notifier invalidation range misuse')
    .version(version, '-V, --version')
    .showHelpAfterError('(run `mntrace --help` or `mntrace <command> --help` for usage)')
    .exitOverride();
  registerCheckCommand(program);
  registerEventsCommand(program);
  registerProbesCommand(program);
  registerRulesCommand(program);
  registerVerifyCommand(program);
  return program;
}

let pipesWatched = false;

/**
 * Output into a reader that stopped reading (`mntrace events ... | head`):
 * end at once and quietly, with the exit code known so far, as a tool killed
 * by SIGPIPE would, instead of a Node stack trace.
 */
function endQuietlyOnClosedPipe(): void {
  if (pipesWatched) return;
  pipesWatched = true;
  for (const out of [process.stdout, process.stderr]) {
    out.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code !== 'EPIPE') throw err;
      process.exit(typeof process.exitCode === 'number' ? process.exitCode : EXIT.clean);
    });
  }
}

/** Run the CLI; resolves to the process exit code. */
export async function main(argv: string[]): Promise<number> {
  endQuietlyOnClosedPipe();
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : EXIT.clean;
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help, help and --version exit 0; help printed because no command was given exits 2 (commander's exitCode 1).
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || (err.code === 'commander.help' && err.exitCode === 0)) return EXIT.clean;
      return EXIT.usage;
    }
    if (err instanceof UsageError || err instanceof InputError) {
      process.stderr.write(`mntrace: ${termText(err.message)}\n`);
      return EXIT.usage;
    }
    if ((err as NodeJS.ErrnoException).code === 'EPIPE') return typeof process.exitCode === 'number' ? process.exitCode : EXIT.clean;
    throw err;
  }
}
