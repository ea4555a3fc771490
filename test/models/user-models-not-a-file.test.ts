/**
 * `models add` reads only a regular file, of at most 2 GiB (src/models/user-models.ts readModelFile): an
 * audit's `models add /dev/zero` read without end (8 GB and growing) and `models add ./fifo` blocked for
 * ever. Anything else is refused before it is read, exit 2, one line saying what it is (src/file-kind.ts).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ExitCode } from '../../src/errors.js';
import { runCli } from '../helpers/cli.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'facectl-user-models-not-a-file-'));
const env = { FACECTL_USER_MODELS_DIR: path.join(tmp, 'user-models') };
/** What the old code did with these was never end: a run still going then is killed (code −1), a failure. */
const LIMIT_MS = 20_000;

const fifo = path.join(tmp, 'model.onnx');
const fifoMade = spawnSync('mkfifo', [fifo]).status === 0;
const folder = path.join(tmp, 'folder.onnx');
mkdirSync(folder);
const zeroLink = path.join(tmp, 'zero.onnx');
symlinkSync('/dev/zero', zeroLink);

describe('models add refuses what is not a regular file, before reading it', () => {
  it.each([
    ['a FIFO nobody writes', fifo, 'a FIFO (named pipe), not a model file'],
    ['/dev/zero', '/dev/zero', 'a device, not a model file'],
    ['a link to /dev/zero named .onnx', zeroLink, 'a device, not a model file'],
    ['a folder', folder, 'a directory, not a model file'],
  ])('%s: exit 2, quickly, one line', (name, file, reason) => {
    if (file === fifo) expect(fifoMade, 'mkfifo').toBe(true);
    const started = Date.now();
    const r = runCli(['models', 'add', file], env, undefined, LIMIT_MS);
    expect(r.code, `${name}: ${r.stderr}`).toBe(ExitCode.USAGE);
    expect(Date.now() - started).toBeLessThan(LIMIT_MS);
    expect(r.stderr.trim().split('\n')).toEqual([`facectl: ${file}: ${reason}`]);
    expect(existsSync(path.join(env.FACECTL_USER_MODELS_DIR, 'user-models.json'))).toBe(false);
  });
});
