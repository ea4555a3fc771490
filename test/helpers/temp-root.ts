/**
 * vitest globalSetup: every test file's temporary folders go under one fresh folder that is removed when the run
 * ends. Tests make their folders with mkdtemp(os.tmpdir()) and many never remove them; face crops and stores from
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
  const before = process.env.TMPDIR;
  process.env.TMPDIR = root;
  return () => {
    if (before === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = before;
    if (process.env.FACECTL_KEEP_TEST_TMP) process.stderr.write(`test temporary files kept in ${root}\n`);
    else rmSync(root, { recursive: true, force: true });
  };
}
