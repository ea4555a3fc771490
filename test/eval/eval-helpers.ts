import { expect } from 'vitest';
import { FacectlError, type ExitCodeValue } from '../../src/errors.js';
import { SKIP_NO_DATA, hasDatasets } from '../helpers/shared.js';

/** Asserts that fn throws a FacectlError with this exit code and a message matching pattern. */
export function expectFacectlError(fn: () => unknown, code: ExitCodeValue, pattern: RegExp): FacectlError {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(FacectlError);
  const err = caught as FacectlError;
  expect(err.code).toBe(code);
  expect(err.oneLine()).toMatch(pattern);
  return err;
}

/** Title for a describe.skipIf(!hasDatasets) block: says why it is skipped when it is. */
export const withShared = (title: string): string => (hasDatasets ? title : `${title} (skipped: ${SKIP_NO_DATA})`);
