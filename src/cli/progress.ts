/** Progress spinners on stderr that never outlive the work they report on, whether it succeeds or fails. */
import type { Ora, Options } from 'ora';
import type { GlobalOptions } from './common.js';

/**
 * Runs `work` with a spinner showing `text` (none with --quiet or --json). The spinner is stopped when
 * the work ends, also when it throws, so a failing command prints its one error line and exits
 * instead of leaving an animation (and its timer) running.
 */
export async function withSpinner<T>(opts: GlobalOptions, text: string, work: (spinner: Ora | null) => Promise<T>, options: Options = {}): Promise<T> {
  // ora loads only when a spinner is shown.
  const spinner = opts.quiet || opts.json ? null : (await import('ora')).default({ text, stream: process.stderr, ...options }).start();
  try {
    return await work(spinner);
  } finally {
    if (spinner?.isSpinning) spinner.stop();
  }
}
