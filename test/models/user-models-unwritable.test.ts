/**
 * A user models folder that cannot be written (a file in the way, /proc, permissions, a read-only or full
 * disk) makes `models add` and `models remove` fail with one line naming the folder, exit 11, as every
 * output facectl cannot write: an audit found "internal error", exit 1.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ExitCode } from '../../src/errors.js';
import { buildToyEmbedderOnnx } from '../../src/models/onnx/toy-embedder.js';
import { runCli } from '../helpers/cli.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'facectl-user-models-unwritable-'));
const TOY = path.join(tmp, 'toy.onnx');
writeFileSync(TOY, buildToyEmbedderOnnx({ inputSize: 112, dim: 32 }));
const inTheWay = path.join(tmp, 'a-file');
writeFileSync(inTheWay, '');

describe('a user models folder that cannot be written: one line, exit 11', () => {
  const onLinux = process.platform === 'linux';
  it.each([
    ['a file in the way', path.join(inTheWay, 'models'), /not a directory \(ENOTDIR\)/, true],
    ['a folder under /proc/1', '/proc/1/facectl-models', /\(ENOENT|EACCES|EPERM\)/, onLinux],
    ['/proc/1 itself', '/proc/1', /\(EPERM|EACCES\)/, onLinux],
  ])('models add: %s', (_what, dir, reason, run) => {
    if (!run) return;
    const r = runCli(['models', 'add', TOY, '--id', 'toy'], { FACECTL_USER_MODELS_DIR: dir as string });
    expect(r.code, r.stderr).toBe(ExitCode.STORE_ERROR);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(new RegExp(`^facectl: ${dir}: cannot write the user models folder: `));
    expect(r.stderr).toMatch(reason as RegExp);
  });

  it.runIf(process.platform === 'linux')('models remove where the folder exists but cannot be written (/proc/1)', () => {
    const r = runCli(['models', 'remove', 'toy'], { FACECTL_USER_MODELS_DIR: '/proc/1' });
    expect(r.code, r.stderr).toBe(ExitCode.STORE_ERROR);
    expect(r.stderr).toMatch(/^facectl: \/proc\/1: cannot write the user models folder: .*\((EPERM|EACCES)\)\n$/);
  });
});
