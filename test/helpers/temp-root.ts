/**
 * vitest globalSetup: every test file's temporary folders go under one fresh folder that is removed when the run
 * ends, and so do the eval embedding cache and the XDG data home. Tests make their folders with mkdtemp(os.tmpdir()) and many never remove them; face crops and stores from
 * every run piled up in /tmp (hundreds of folders a day on the CI machine). os.tmpdir() reads TMPDIR on each call,
 * and the forked workers and the CLI processes they spawn inherit it.
 */
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export default function setup(): () => void {
  const root = mkdtempSync(path.join(os.tmpdir(), 'facectl-test-run-'));
  // Sticky and world-writable like /tmp itself: the install test runs the CLI as another user, which makes its own
  // temporary folders here.
  chmodSync(root, 0o1777);
  // Also the eval embedding cache and the XDG data home (default store, user models): a test that forgets to
  // set them writes there and never into the user's own. The models cache stays shared (conversions are slow).
  const set = { TMPDIR: root, FACECTL_CACHE_DIR: path.join(root, 'eval-cache'), XDG_DATA_HOME: path.join(root, 'xdg-data') };
  const before = Object.fromEntries(Object.keys(set).map((k) => [k, process.env[k]]));
  Object.assign(process.env, set);
  return () => {
    for (const [key, value] of Object.entries(before)) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
    if (process.env.FACECTL_KEEP_TEST_TMP) process.stderr.write(`test temporary files kept in ${root}\n`);
    else rmSync(root, { recursive: true, force: true });
  };
}
