/** facectl command-line entry: registers one module per command and runs commander. */
import { Command, CommanderError } from 'commander';
import { ExitCode } from '../errors.js';
import { registerDetect } from './detect.js';
import { registerEnroll } from './enroll.js';
import { registerEval } from './eval.js';
import { registerGallery } from './gallery.js';
import { registerIndex } from './index-cmd.js';
import { registerLogin } from './login.js';
import { registerModels } from './models.js';
import { registerVerify } from './verify.js';
import { VERSION } from './version.js';

export function buildProgram(): Command {
  const program = new Command('facectl')
    .description('Face recognition from the command line: enroll, login, verify, evaluate. Offline, CPU-first.')
    .version(VERSION)
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  registerEnroll(program);
  registerLogin(program);
  registerGallery(program);
  registerIndex(program);
  registerDetect(program);
  registerModels(program);
  registerEval(program);
  registerVerify(program);
  return program;
}

export async function main(argv: string[]): Promise<void> {
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
