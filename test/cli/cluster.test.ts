/**
 * `facectl cluster`: faces grouped by person with nobody enrolled. Without ../shared: three people cut
 * from the sample photos `npm ci` installs, each saved twice (another size and JPEG quality), must give
 * three groups of two. With it: the two folder-per-person sets (15 + 40 photos of 14 people) must give
 * groups that each hold one person, and the group photos groups in which no photo appears twice. Bad
 * input: no photos → exit 14; photos without faces → exit 4; unreadable photos → exit 6, each reason on stderr.
 */
import { mkdirSync, mkdtempSync, readdirSync, readlinkSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { clusteringScores } from '../../src/cluster/metrics.js';
import { ExitCode } from '../../src/errors.js';
import { runCli } from '../helpers/cli.js';
import { faceCrop, hasSamples, SKIP_NO_SAMPLES } from '../helpers/samples.js';
import { SKIP_NO_DATA, dataset, hasDatasets } from '../helpers/shared.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'facectl-cluster-'));
const env = { FACECTL_CACHE_DIR: path.join(tmp, 'cache') };

interface ClusterJson {
  threshold: { value: number; source: string };
  photos: number;
  faces: number;
  groups: { file: string; face: number }[][];
  leftOut: { file: string; face: number; reason: string }[];
  skipped: { file: string; code: number; reason: string }[];
}
const cluster = (...argv: string[]) => {
  const r = runCli(['cluster', ...argv, '--json'], env);
  return { code: r.code, stderr: r.stderr, json: r.stdout ? (JSON.parse(r.stdout) as ClusterJson) : undefined };
};

/** Three people cut from the sample photos, each saved twice (another size and JPEG quality), and a text file. */
let piled: Promise<string> | undefined;
const pile = (): Promise<string> =>
  (piled ??= (async () => {
    const dir = path.join(tmp, 'pile');
    mkdirSync(dir, { recursive: true });
    for (const who of ['a', 'b', 'c'] as const) {
      const crop = await faceCrop(who);
      await sharp(crop).toFile(path.join(dir, `${who}-1.jpg`));
      await sharp(crop).resize(260).jpeg({ quality: 70 }).toFile(path.join(dir, `${who}-2.jpg`));
    }
    writeFileSync(path.join(dir, 'notes.txt'), 'not a photo'); // skipped by name, not an error
    return dir;
  })());

describe.skipIf(!hasSamples)(`facectl cluster${hasSamples ? '' : ` (${SKIP_NO_SAMPLES})`}`, () => {
  it('three people, two photos each: three groups of two, at the login threshold', async () => {
    const dir = await pile();
    const r = cluster(dir);
    expect(r.code, r.stderr).toBe(ExitCode.OK);
    expect(r.json!.photos).toBe(6);
    expect(r.json!.threshold.source).toMatch(/1:N login threshold/);
    const groups = r.json!.groups.map((g) => g.map((f) => path.basename(f.file)[0]).sort().join(''));
    expect(groups.sort()).toEqual(['aa', 'bb', 'cc']);
    // A threshold nothing reaches leaves everyone alone.
    expect(cluster(dir, '--threshold', '0.9999').json!.groups).toHaveLength(6);
  });

  it('--link-to: one private folder per group with links to its photos; a non-empty folder is refused first', async () => {
    const dir = await pile();
    const out = path.join(tmp, 'by-person');
    const r = cluster(dir, '--link-to', out);
    expect(r.code, r.stderr).toBe(ExitCode.OK);
    expect(readdirSync(out)).toEqual(['group-001', 'group-002', 'group-003']);
    for (const group of readdirSync(out)) {
      const folder = path.join(out, group);
      expect(statSync(folder).mode & 0o777).toBe(0o700);
      const links = readdirSync(folder);
      expect(links).toHaveLength(2);
      expect(new Set(links.map((l) => l[0])).size).toBe(1); // both photos of one person
      for (const l of links) expect(readlinkSync(path.join(folder, l))).toBe(path.join(dir, l));
    }
    const again = runCli(['cluster', dir, '--link-to', out], env);
    expect(again.code).toBe(ExitCode.USAGE);
    expect(again.stderr).toMatch(/not an empty folder/);
  });

  it('bad input: no photos → exit 14; only photos without a face → exit 4, each listed', async () => {
    const empty = path.join(tmp, 'empty');
    mkdirSync(empty, { recursive: true });
    expect(cluster(empty).code).toBe(ExitCode.NOT_FOUND);
    expect(cluster(path.join(tmp, 'missing')).code).toBe(ExitCode.NOT_FOUND);
    const blank = path.join(tmp, 'blank');
    mkdirSync(blank, { recursive: true });
    await sharp({ create: { width: 120, height: 90, channels: 3, background: '#808080' } }).png().toFile(path.join(blank, 'grey.png'));
    const r = cluster(blank);
    expect(r.code).toBe(ExitCode.NO_FACE);
    expect(r.json!.skipped).toEqual([{ file: path.join(blank, 'grey.png'), code: ExitCode.NO_FACE, reason: 'no face found' }]);
  });

  it('unreadable photos are not "without a face": the summary says which, each reason is on stderr also with -q, and the exit code is theirs', () => {
    const bad = path.join(tmp, 'unreadable');
    mkdirSync(bad, { recursive: true });
    writeFileSync(path.join(bad, 'garbage.jpg'), 'garbage');
    writeFileSync(path.join(bad, 'empty.png'), '');
    const r = runCli(['cluster', bad, '-q'], env);
    expect(r.code).toBe(ExitCode.BAD_IMAGE); // not 4 (no face): the first skipped photo's code, as detect's
    expect(r.stdout).toMatch(/2 photos skipped: 2 unreadable/);
    expect(r.stdout).not.toMatch(/without a face/);
    expect(r.stderr).toContain(`facectl: ${path.join(bad, 'empty.png')}: `);
    expect(r.stderr).toContain(`facectl: ${path.join(bad, 'garbage.jpg')}: `);
  });

  describe.skipIf(!hasDatasets)(`with real photos${hasDatasets ? '' : ` (${SKIP_NO_DATA})`}`, () => {
    it('two folder-per-person sets: every group holds one person', () => {
      const r = cluster(dataset('face-recognition-examples'), dataset('faceapi-bbt'));
      expect(r.code, r.stderr).toBe(ExitCode.OK);
      const faces = r.json!.groups.flatMap((g, i) => g.map((f) => ({ group: i, person: path.basename(path.dirname(f.file)) })));
      expect(faces).toHaveLength(r.json!.faces);
      const s = clusteringScores(faces.map((f) => f.group), faces.map((f) => f.person));
      expect(s.classes).toBe(14);
      expect(s.bcubedPrecision).toBe(1); // no group mixes two people
      expect(s.bcubedRecall).toBeGreaterThan(0.8);
    });

    it('group photos: no group holds two faces of one photo; tiny crowd faces are left out with the reason', () => {
      const r = cluster(dataset('edge-cases', 'multi-face'));
      expect(r.code, r.stderr).toBe(ExitCode.OK);
      for (const g of r.json!.groups) expect(new Set(g.map((f) => f.file)).size).toBe(g.length);
      expect(r.json!.groups.filter((g) => g.length >= 3).length).toBeGreaterThanOrEqual(3); // the Big Bang Theory cast across bbt1–5
      expect(r.json!.leftOut.length).toBeGreaterThan(0);
      for (const f of r.json!.leftOut) expect(f.reason).toMatch(/too small|low confidence|too blurred|turned too far/);
    });
  });
});
