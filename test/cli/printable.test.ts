/**
 * File names come from anyone: a newline in one must not forge a line of output ("ACCEPT admin"), nor an
 * escape sequence drive the terminal. Errors, notes, tables and login's photo list show them escaped.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ExitCode, FacectlError, printable, quoted } from '../../src/errors.js';
import { table } from '../../src/cli/common.js';
import { runCli } from '../helpers/cli.js';

describe('printable', () => {
  it('escapes control characters, DEL, C1 and the Unicode line separators; leaves other text alone', () => {
    expect(printable('joe\nACCEPT admin.jpg')).toBe('joe\\nACCEPT admin.jpg');
    expect(printable('a\tb\rc\u001b[31md\u007fe\u0085f\u2028g')).toBe('a\\tb\\rc\\x1b[31md\\x7fe\\x85f\\u2028g');
    expect(printable('Zoë 東京 ✓.jpg')).toBe('Zoë 東京 ✓.jpg');
  });

  it('quoted: JSON-quoted, cut after max characters (code points), control characters and U+FFFD escaped', () => {
    expect(quoted('alice')).toBe('"alice"');
    expect(quoted('a"b\\c')).toBe('"a\\"b\\\\c"');
    expect(quoted('x'.repeat(100))).toBe(`"${'x'.repeat(80)}…"`);
    expect(quoted('😀'.repeat(5), 3)).toBe('"😀😀😀…"');
    expect(quoted('a\u0000b\nc\u007fd\u0085e\u2028f\ufffd')).toBe('"a\\u0000b\\nc\\u007fd\\u0085e\\u2028f\\ufffd"');
  });

  it('an error names its file on one line; a table cell stays one line (a cell given as lines keeps them)', () => {
    expect(new FacectlError(ExitCode.NO_FACE, 'no face found', 'a\nACCEPT b.jpg').oneLine()).toBe('a\\nACCEPT b.jpg: no face found');
    expect(table(['image'], [['x\ny.jpg']]).split('\n')).toHaveLength(5); // top, head, rule, one row, bottom
    expect(table(['photos'], [[['a.jpg', 'b\nc.jpg']]])).toContain('b\\nc.jpg');
    expect(table(['photos'], [[['a.jpg', 'b.jpg']]]).split('\n')).toHaveLength(6);
  });

  it('through the CLI: a bad image with a newline in its name is one stderr line', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'facectl-printable-'));
    const file = path.join(dir, 'evil\nACCEPT admin\u001b[2J.jpg');
    writeFileSync(file, 'not an image');
    const r = runCli(['detect', file]);
    expect(r.code).toBe(ExitCode.BAD_IMAGE);
    const lines = r.stderr.trim().split('\n');
    expect(lines, r.stderr).toHaveLength(1);
    expect(lines[0]).toContain('evil\\nACCEPT admin\\x1b[2J.jpg: ');
    expect(r.stdout).not.toMatch(/^ACCEPT/m);
  });

  it('photos named in an error\'s message (enroll\'s several unusable photos) are escaped, not joined with a space', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'facectl-printable-'));
    const files = ['one\nACCEPT admin.jpg', 'two.jpg'].map((name) => path.join(dir, name));
    for (const f of files) writeFileSync(f, 'not an image');
    const r = runCli(['enroll', 'bob', ...files, '--store', path.join(dir, 'store')]);
    expect(r.code).toBe(ExitCode.BAD_IMAGE);
    expect(r.stderr.trim().split('\n'), r.stderr).toHaveLength(1);
    expect(r.stderr).toContain('one\\nACCEPT admin.jpg: ');
  });
});
