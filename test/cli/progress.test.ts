/** withSpinner: the spinner stops when the work ends, also when it fails (a left-over spinner keeps animating and holds the process). */
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import type { Ora } from 'ora';
import { withSpinner } from '../../src/cli/progress.js';

/** A terminal-like sink, so the spinner really animates (on a pipe ora draws nothing). */
const tty = () =>
  Object.assign(new Writable({ write: (_c, _e, done) => done() }), {
    isTTY: true,
    columns: 80,
    cursorTo: () => true,
    moveCursor: () => true,
    clearLine: () => true,
  });

describe('withSpinner', () => {
  it('stops the spinner when the work throws, and rethrows', async () => {
    let seen: Ora | null = null;
    const failure = new Error('boom');
    await expect(
      withSpinner({}, 'working', async (spinner) => {
        seen = spinner;
        expect(spinner?.isSpinning).toBe(true);
        throw failure;
      }, { stream: tty() as unknown as NodeJS.WriteStream, isEnabled: true }),
    ).rejects.toBe(failure);
    expect(seen).not.toBeNull();
    expect(seen!.isSpinning).toBe(false);
  });

  it('returns the result and stops a spinner the work left running; none with --json or --quiet', async () => {
    let seen: Ora | null = null;
    const result = await withSpinner({}, 'working', async (spinner) => ((seen = spinner), 42), { stream: tty() as unknown as NodeJS.WriteStream, isEnabled: true });
    expect(result).toBe(42);
    expect(seen!.isSpinning).toBe(false);
    expect(await withSpinner({ json: true }, 'x', async (spinner) => spinner)).toBeNull();
    expect(await withSpinner({ quiet: true }, 'x', async (spinner) => spinner)).toBeNull();
  });
});
