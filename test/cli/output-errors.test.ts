/**
 * Standard output that cannot be written (a full disk: /dev/full) is one line on stderr and exit 11, not a
 * stack trace and exit 1 ("a bug"); a command that already failed keeps its own code. A failing stderr
 * changes nothing: the exit code still tells the outcome.
 */
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ExitCode } from '../../src/errors.js';
import { CLI_ENTRY } from '../helpers/cli.js';
import { repoRoot } from '../helpers/shared.js';

const hasDevFull = existsSync('/dev/full');

function run(argv: string[], full: 'stdout' | 'stderr') {
  const fd = openSync('/dev/full', 'w');
  try {
    const stdio = full === 'stdout' ? ['ignore', fd, 'pipe'] : ['ignore', 'pipe', fd];
    const r = spawnSync(process.execPath, ['--import', 'tsx', CLI_ENTRY, ...argv], { cwd: repoRoot, encoding: 'utf8', stdio: stdio as never, timeout: 60_000 });
    return { code: r.status, out: String((full === 'stdout' ? r.stderr : r.stdout) ?? '') };
  } finally {
    closeSync(fd);
  }
}

describe.skipIf(!hasDevFull)(`a full disk behind stdout or stderr${hasDevFull ? '' : ' (skipped: no /dev/full here)'}`, () => {
  it('stdout: one line naming it, exit 11, for a command that succeeded', () => {
    for (const argv of [['--version'], ['--help'], ['models', 'list', '--json']]) {
      const r = run(argv, 'stdout');
      expect(r.code, argv.join(' ')).toBe(ExitCode.STORE_ERROR);
      expect(r.out).toBe('facectl: cannot write standard output: no space left on device (ENOSPC)\n');
    }
  });

  it('stderr: the command keeps its own exit code and prints nothing else', () => {
    const missing = path.join(mkdtempSync(path.join(os.tmpdir(), 'facectl-output-errors-')), 'none');
    expect(run(['list', '--store', missing], 'stderr')).toEqual({ code: ExitCode.NOT_FOUND, out: '' });
    expect(run(['--version'], 'stderr').code).toBe(ExitCode.OK);
  });
});
