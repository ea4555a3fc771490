/**
 * Pictures facectl writes for the user (--draw, --sheet): private, and what a killed write left beside
 * them (a whole picture of faces under a temporary name) is removed by the next write of that file.
 */
import { mkdirSync, mkdtempSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { writePrivateFile } from '../../src/cli/output-file.js';

describe('writePrivateFile', () => {
  it('removes the temporary files of killed writes of the same picture, not those of live processes nor other files', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'facectl-output-file-'));
    const dead = 'faces.png.tmp-2147483646-0123abcd';
    const live = `faces.png.tmp-${process.ppid}-89abcdef`; // the test runner's parent: alive
    const other = 'other.png.tmp-2147483646-0123abcd';
    for (const name of [dead, live, other, 'faces.png.tmp-notes']) writeFileSync(path.join(dir, name), 'a picture of faces');
    await writePrivateFile(path.join(dir, 'faces.png'), new Uint8Array([1, 2, 3]), '--draw');
    expect(readdirSync(dir).sort()).toEqual(['faces.png', 'faces.png.tmp-notes', live, other].sort());
    expect(statSync(path.join(dir, 'faces.png')).mode & 0o777).toBe(0o600);
  });

  it('a folder under such a name is left alone and the picture is written (it was an internal error, exit 1)', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'facectl-output-file-'));
    mkdirSync(path.join(dir, 'out.png.tmp-2147483646-0123abcd'));
    await writePrivateFile(path.join(dir, 'out.png'), new Uint8Array([1]), '--draw');
    expect(readdirSync(dir).sort()).toEqual(['out.png', 'out.png.tmp-2147483646-0123abcd']);
  });
});
