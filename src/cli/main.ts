/** facectl command-line entry: registers one module per command and runs commander. */
import { Command, CommanderError } from 'commander';
import { describeIoError, ExitCode, printable } from '../errors.js';
import { redactText } from '../redact-url.js';
import { registerCluster } from './cluster.js';
import { requireSubcommand } from './common.js';
import { registerDemo } from './demo.js';
import { registerDetect } from './detect.js';
import { registerEmbed } from './embed.js';
import { registerEnroll } from './enroll.js';
import { registerEval } from './eval.js';
import { registerGallery } from './gallery.js';
import { registerIndex } from './index-cmd.js';
import { registerStore } from './store-cmd.js';
import { registerLogin } from './login.js';
import { registerModels } from './models.js';
import { registerServe } from './serve.js';
import { registerVerify } from './verify.js';
import { VERSION } from './version.js';

export function buildProgram(): Command {
  const program = new Command('facectl')
    .description('Face recognition from the command line: enroll, login, verify, evaluate. Offline, CPU-first.')
    .version(VERSION)
    // A parse error is one line, as every other error: "facectl: unknown option '--x' (run … --help for usage)".
    .configureOutput({ outputError: (text, write) => write(`${parseErrorLine(text)}\n`) })
    .addHelpText(
      'after',
      `
Quick start:
  facectl demo                            # detect, enroll, log in on sample photos (a clone; --photos <dir> for yours)
  facectl enroll alice alice1.jpg alice2.jpg --name "Alice"
  facectl login photo.jpg                 # ACCEPT alice (exit 0) or UNKNOWN (exit 3)
  facectl eval --dataset ./lfw            # accuracy report under reports/

Exit codes: 0 ok/accept · 1 internal · 2 usage · 3 no match · 4 no face · 5 several faces · 6 bad image
  7 unusable face · 8 unknown id · 9 invalid id · 10 model mismatch · 11 store error
  12 duplicate identity · 13 model error · 14 not found · 15 database unreachable`,
    )
    .exitOverride();
  registerEnroll(program);
  registerLogin(program);
  registerGallery(program);
  registerIndex(program);
  registerStore(program);
  registerDetect(program);
  registerModels(program);
  registerEval(program);
  registerVerify(program);
  registerEmbed(program);
  registerServe(program);
  registerCluster(program);
  registerDemo(program);
  // `facectl` alone or `facectl help nosuch`: one line saying what is missing or unknown, as other parse errors.
  requireSubcommand(program);
  return program;
}

/** commander's "error: unknown option '--x'\n" as facectl's one-line form. */
export function parseErrorLine(text: string): string {
  // commander quotes what was typed: a mistyped `--stroe=postgres://u:pw@h` must not print the password.
  // commander puts its suggestion on a line of its own: "unknown option '--stor'\n(Did you mean --store?)".
  const reason = printable(redactText(text.trim().replace(/^error: /, '').replace(/\n\(Did you mean /, ' (did you mean ').replace(/\.$/, '')));
  return `facectl: ${reason} (run with --help for usage)`;
}

/**
 * A reader that stops early (`facectl login photo.jpg | head -1`) closes the pipe: stop quietly with the
 * exit code so far, as Unix tools do, instead of an EPIPE stack trace. Any other failure to write standard
 * output (`--json > /dev/full`: a full disk, an I/O error) is one line on stderr and exit 11, or the
 * command's own failure code when it already has one: its output is lost, and a script must not read exit
 * 0 or 1 ("a bug"). A failing stderr is ignored: there is nowhere left to say anything, and the exit code
 * still tells the outcome (a login whose log is full still answers with its decision).
 */
function handleOutputErrors(): void {
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    const sofar = Number(process.exitCode ?? ExitCode.OK);
    if (err.code === 'EPIPE') process.exit(sofar);
    try {
      process.stderr.write(`facectl: cannot write standard output: ${describeIoError(err)}\n`);
    } catch {
      // stderr is gone too: the exit code says it
    }
    process.exit(sofar !== ExitCode.OK ? sofar : ExitCode.STORE_ERROR);
  });
  process.stderr.on('error', () => undefined);
}

export async function main(argv: string[]): Promise<void> {
  handleOutputErrors();
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version exit 0; every parse error is a usage error.
      process.exitCode = err.exitCode === 0 ? ExitCode.OK : ExitCode.USAGE;
      return;
    }
    throw err;
  }
}
