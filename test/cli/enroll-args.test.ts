/**
 * `facectl enroll` arguments checked before any model loads or store is made: an empty id is an invalid
 * id (exit 9), as the README's exit codes say, not a missing one; `--batch` without `--dataset` does
 * nothing and is refused. Several unusable photos are one error line naming each.
 */
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ExitCode } from '../../src/errors.js';
import { runCli } from '../helpers/cli.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'facectl-enroll-args-'));
const photo = path.join(tmp, 'x.jpg');
writeFileSync(photo, 'not read');

describe('enroll arguments', () => {
  it('an empty id is an invalid id: exit 9, no store made; with --dataset it is an id given: exit 2', () => {
    const store = path.join(tmp, 'never-made');
    const r = runCli(['enroll', '', photo, '--store', store]);
    expect(r.code, r.stderr).toBe(ExitCode.INVALID_ID);
    expect(r.stderr).toMatch(/^facectl: invalid id "": use 1-64 letters/);
    const d = runCli(['enroll', '', '--dataset', tmp, '--store', store]);
    expect(d.code, d.stderr).toBe(ExitCode.USAGE);
    expect(d.stderr).toContain('--dataset takes no id or photos');
    expect(existsSync(store)).toBe(false);
  });

  it('--batch without --dataset is refused (exit 2), before any store is made', () => {
    const store = path.join(tmp, 'never-made-batch');
    const r = runCli(['enroll', 'alice', photo, '--batch', '5', '--store', store]);
    expect(r.code, r.stderr).toBe(ExitCode.USAGE);
    expect(r.stderr).toBe('facectl: --batch does nothing without --dataset (one enroll is one commit)\n');
    expect(existsSync(store)).toBe(false);
  });

  it('several unusable photos: one stderr line naming each and why, the first one\'s exit code, nothing enrolled', () => {
    const other = path.join(tmp, 'y.jpg');
    writeFileSync(other, 'not a picture either');
    const store = path.join(tmp, 'two-bad');
    const r = runCli(['enroll', 'alice', photo, other, '--store', store]);
    expect(r.code, r.stderr).toBe(ExitCode.BAD_IMAGE);
    const lines = r.stderr.trim().split('\n');
    expect(lines, r.stderr).toHaveLength(1);
    expect(lines[0]).toMatch(/^facectl: 2 of 2 photos unusable, nothing enrolled: .*x\.jpg: .*; .*y\.jpg: /);
  });
});
