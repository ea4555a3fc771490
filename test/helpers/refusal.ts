import { FacectlError } from '../../src/errors.js';

/** What `fn` throws: its exit code and one line; any other error is rethrown, and none fails the test. */
export async function refusal(fn: () => unknown): Promise<{ code: number; line: string }> {
  try {
    await fn();
  } catch (err) {
    if (!(err instanceof FacectlError)) throw err;
    return { code: err.code, line: err.oneLine() };
  }
  throw new Error('not refused');
}
