/**
 * `facectl embed`: the vectors are the ones facectl itself compares — unit length, and the dot product of
 * two is exactly `verify`'s similarity — and they are labelled with the model hash a store built the same
 * way records. Bad photos are reported per photo with their exit code, the others still embedded.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ExitCode } from '../../src/errors.js';
import { runCli } from '../helpers/cli.js';
import { SKIP_NO_DATA, dataset, hasDatasets } from '../helpers/shared.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'facectl-embed-'));
const env = { FACECTL_STORE: path.join(tmp, 'store'), FACECTL_CACHE_DIR: path.join(tmp, 'cache') };
const cli = (argv: string[], input?: Uint8Array) => runCli(argv, env, input);
const dot = (a: number[], b: number[]) => a.reduce((s, x, i) => s + x * b[i]!, 0);

interface EmbedJson {
  model: { id: string; hash: string; dimension: number; detector: string };
  normalised: boolean;
  results: { file: string; faces?: { box: { x: number; y: number; width: number; height: number }; embedding: number[] }[]; error?: string; exitCode?: number }[];
}

describe('facectl embed', () => {
  it('input that is not a photo: exit 6 with the reason; two "-": exit 2', () => {
    const junk = cli(['embed', '-', '--json'], Buffer.from('not an image'));
    expect(junk.code).toBe(ExitCode.BAD_IMAGE);
    expect((JSON.parse(junk.stdout) as EmbedJson).results[0]!.error).toMatch(/not a supported image/);
    expect(cli(['embed', '-', '-'], Buffer.alloc(0)).code).toBe(ExitCode.USAGE);
  });

  it('says on stderr, one line each, which photos failed and why (README: `facectl: <file>: <reason>`)', () => {
    const junk = path.join(tmp, 'junk.jpg');
    writeFileSync(junk, 'not an image');
    const missing = path.join(tmp, 'missing.jpg');
    const r = cli(['embed', missing, junk, '-q']);
    expect(r.code).toBe(ExitCode.NOT_FOUND); // the first failure's code
    const lines = r.stderr.trimEnd().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toBe(`facectl: ${missing}: no such file`);
    expect(lines[1]).toMatch(new RegExp(`^facectl: ${junk}: not a supported image`));
  });

  describe.skipIf(!hasDatasets)(`with real photos${hasDatasets ? '' : ` (${SKIP_NO_DATA})`}`, () => {
    const ex = (f: string) => dataset('face-recognition-examples', f);
    const [biden, biden2, obama] = [ex('joe_biden/biden.jpg'), ex('joe_biden/biden2.jpg'), ex('barack_obama/obama.jpg')];
    const embed = (...argv: string[]) => {
      const r = cli(['embed', ...argv, '--json']);
      return { code: r.code, json: JSON.parse(r.stdout) as EmbedJson, stderr: r.stderr };
    };

    it('unit vectors whose dot product is verify’s similarity, labelled with the hash a store records', () => {
      const r = embed(biden, biden2, obama);
      expect(r.code, r.stderr).toBe(ExitCode.OK);
      const [a, b, c] = r.json.results.map((x) => x.faces![0]!.embedding);
      for (const v of [a!, b!, c!]) {
        expect(v).toHaveLength(r.json.model.dimension);
        expect(Math.sqrt(dot(v, v))).toBeCloseTo(1, 6);
      }
      for (const [x, y, va, vb] of [[biden, biden2, a, b], [biden, obama, a, c]] as const) {
        const verify = cli(['verify', x, y, '--json']);
        expect(JSON.parse(verify.stdout).similarity).toBeCloseTo(dot(va!, vb!), 6);
      }
      expect(dot(a!, b!)).toBeGreaterThan(dot(a!, c!) + 0.3);
      expect(cli(['enroll', 'biden', biden, '-q']).code).toBe(0);
      expect(r.json.model).toMatchObject(JSON.parse(cli(['info', '--json']).stdout).model);
      const dlib = embed(biden, '--model', 'dlib-resnet').json.model;
      expect([dlib.id, dlib.dimension]).toEqual(['dlib-resnet', 128]);
      expect(dlib.hash).not.toBe(r.json.model.hash);
    });

    it('--all-faces gives every face, the default only the largest; a photo without a face: exit 4, the others still embedded', () => {
      const group = dataset('edge-cases', 'multi-face/two_people.jpg');
      const all = embed(group, '--all-faces').json.results[0]!.faces!;
      const largest = embed(group).json.results[0]!.faces!;
      expect(all).toHaveLength(2);
      expect(largest).toHaveLength(1);
      // The same face (the all-faces pass is the thorough one, so boxes differ by a few pixels).
      const area = (f: (typeof all)[number]) => f.box.width * f.box.height;
      const biggest = all.reduce((p, q) => (area(q) > area(p) ? q : p));
      const centre = (f: (typeof all)[number]) => [f.box.x + f.box.width / 2, f.box.y + f.box.height / 2];
      const [[x1, y1], [x2, y2]] = [centre(largest[0]!), centre(biggest)];
      expect(Math.hypot(x1! - x2!, y1! - y2!)).toBeLessThan(0.1 * biggest.box.width);
      const mixed = embed(biden, dataset('edge-cases', 'no-face/cat.jpg'));
      expect(mixed.code).toBe(ExitCode.NO_FACE);
      expect(mixed.json.results[0]!.faces).toHaveLength(1);
      expect(mixed.json.results[1]).toMatchObject({ error: 'no face found', exitCode: ExitCode.NO_FACE });
    });
  });
});
