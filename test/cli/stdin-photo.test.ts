/**
 * "-" reads the photo from standard input for `login`, `verify` and `detect` (a camera tool or a script
 * can pipe a frame in without writing it to disk). The result is the one the same photo gives as a
 * file; a second "-" in one command and `enroll -` (whose photo path must be kept) are usage errors.
 */
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ExitCode } from '../../src/errors.js';
import { runCli } from '../helpers/cli.js';
import { SKIP_NO_DATA, dataset, hasDatasets } from '../helpers/shared.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'facectl-stdin-'));
/** A CLI bound to a store of its own (`name` under tmp), so no test sees another's enrolls, whatever the order. */
const storeCli = (name: string) => {
  const store = path.join(tmp, name);
  const env = { FACECTL_STORE: store, FACECTL_CACHE_DIR: path.join(tmp, 'cache') };
  return { store, cli: (argv: string[], input?: Uint8Array) => runCli(argv, env, input) };
};

describe('photos on standard input ("-")', () => {
  it('usage errors: two "-" in one command, and enroll from standard input; nothing is created', () => {
    const { store, cli } = storeCli('usage-store');
    const some = Buffer.from('not read');
    const twice = cli(['verify', '-', '-'], some);
    expect(twice.code).toBe(ExitCode.USAGE);
    expect(twice.stderr).toMatch(/only one photo can come from standard input/);
    const enroll = cli(['enroll', 'alice', '-'], some);
    expect(enroll.code).toBe(ExitCode.USAGE);
    expect(enroll.stderr).toMatch(/enroll needs photo files, not standard input/);
    expect(existsSync(store)).toBe(false); // no store was made
    const list = cli(['list', '--json']);
    expect(list.code, list.stderr).toBe(ExitCode.NOT_FOUND);
    expect(list.stderr.trim().split('\n')).toEqual([`facectl: ${store}: no store here: enroll someone first, or pass --store`]);
  });

  it('what is piped in is decoded like a file: empty and non-image input give exit 6 with one line', () => {
    const { cli } = storeCli('decode-store');
    for (const [input, message] of [[Buffer.alloc(0), /^empty file \(0 bytes\)$/], [Buffer.from('hello\n'), /not a supported image/]] as const) {
      const r = cli(['detect', '-', '--json'], input);
      expect(r.code).toBe(ExitCode.BAD_IMAGE);
      expect(JSON.parse(r.stdout).results[0].error).toMatch(message);
    }
    const verify = cli(['verify', '-', 'other.jpg'], Buffer.alloc(0)); // "-" is decoded first
    expect(verify.code).toBe(ExitCode.BAD_IMAGE);
    expect(verify.stderr.trim().split('\n')).toEqual(['facectl: (standard input): empty file (0 bytes)']);
  });

  describe.skipIf(!hasDatasets)(`with real photos${hasDatasets ? '' : ` (${SKIP_NO_DATA})`}`, () => {
    const ex = (f: string) => dataset('face-recognition-examples', f);
    it('login -, verify a -, detect - give what the same photo gives as a file', () => {
      const { cli } = storeCli('photos-store');
      for (const [id, photo] of [['biden', 'joe_biden/biden.jpg'], ['obama', 'barack_obama/obama.jpg']]) expect(cli(['enroll', id!, ex(photo!), '-q']).code).toBe(0);
      const probe = ex('joe_biden/biden2.jpg');
      const bytes = readFileSync(probe);
      const json = (r: ReturnType<typeof runCli>, code: number = ExitCode.OK) => {
        expect(r.code, r.stderr).toBe(code);
        return JSON.parse(r.stdout);
      };
      const piped = json(cli(['login', '-', '--json'], bytes));
      const fromFile = json(cli(['login', probe, '--json']));
      expect([piped.faces[0].decision, piped.faces[0].id]).toEqual(['ACCEPT', 'biden']);
      expect(piped.faces).toEqual(fromFile.faces);
      const verifyPiped = json(cli(['verify', ex('joe_biden/biden.jpg'), '-', '--json'], bytes));
      expect(verifyPiped.similarity).toBe(json(cli(['verify', ex('joe_biden/biden.jpg'), probe, '--json'])).similarity);
      const other = cli(['verify', '-', ex('barack_obama/obama.jpg'), '--json'], bytes);
      expect(other.code).toBe(ExitCode.UNKNOWN_FACE);
      expect(json(cli(['detect', '-', '--json'], bytes)).results[0].faces).toEqual(json(cli(['detect', probe, '--json'])).results[0].faces);
    });
  });
});
