/**
 * `login --sheet`: one row per decided face (issue 12 item 4: with --all-faces it drew only the first).
 * The drawing is checked on synthetic tiles without data; the command on a real two-person photo. The
 * sheet shows faces: it is written 0600, and a bad path is a one-line error before the login runs.
 */
import { chmodSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';
import { SHEET_ROW_HEIGHT, writeContactSheet, type SheetTile } from '../../src/cli/sheet.js';
import { ExitCode } from '../../src/errors.js';
import type { RgbImage } from '../../src/pipeline/types.js';
import { GalleryStore } from '../../src/store/index.js';
import { MODEL, newFace, unitVectors } from '../gallery/contract.js';
import { runCli } from '../helpers/cli.js';
import { SKIP_NO_DATA, dataset, hasDatasets } from '../helpers/shared.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'facectl-sheet-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function solid(rgb: [number, number, number]): RgbImage {
  const data = new Uint8Array(64 * 64 * 3);
  for (let i = 0; i < data.length; i += 3) data.set(rgb, i);
  return { data, width: 64, height: 64 };
}
const tile = (rgb: [number, number, number], title: string): SheetTile => ({ image: solid(rgb), box: { x: 16, y: 16, width: 32, height: 32 }, title, subtitle: '' });

async function pixel(file: string, x: number, y: number): Promise<number[]> {
  const { data, info } = await sharp(file).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  const i = (y * info.width + x) * 3;
  return [data[i]!, data[i + 1]!, data[i + 2]!];
}

describe('contact sheet', () => {
  it('draws one row per face, each with its own query tile', async () => {
    const out = path.join(tmp, 'rows.png');
    await writeContactSheet(out, [
      { query: tile([255, 0, 0], 'query'), matches: [tile([0, 255, 0], 'a')], verdict: { text: 'ACCEPT a', accepted: true } },
      { query: tile([0, 0, 255], 'query'), matches: [tile([0, 255, 0], 'b'), tile([0, 255, 0], 'b')], verdict: { text: 'UNKNOWN', accepted: false } },
      { query: tile([255, 255, 0], 'query'), matches: [], verdict: { text: 'UNKNOWN', accepted: false } },
    ]);
    const meta = await sharp(out).metadata();
    expect(meta.height).toBe(3 * SHEET_ROW_HEIGHT);
    // The query tile's centre in each row (tile 160 px at x 12, below a 36 px verdict line).
    const centre = (row: number) => pixel(out, 12 + 80, row * SHEET_ROW_HEIGHT + 36 + 80);
    expect(await centre(0)).toEqual([255, 0, 0]);
    expect(await centre(1)).toEqual([0, 0, 255]);
    expect(await centre(2)).toEqual([255, 255, 0]);
  });

  it('is private (0600), also when it replaces a file others could read', async () => {
    const out = path.join(tmp, 'private.png');
    writeFileSync(out, '');
    chmodSync(out, 0o644);
    await writeContactSheet(out, [{ query: tile([255, 0, 0], 'query'), matches: [], verdict: { text: 'UNKNOWN', accepted: false } }]);
    expect(statSync(out).mode & 0o777).toBe(0o600);
    expect((await sharp(out).metadata()).format).toBe('png');
  });

  it('login refuses a folder or a missing folder as --sheet before it opens the store (exit 2, 14)', async () => {
    const store = path.join(tmp, 'toy-store');
    await GalleryStore.mutate(store, (d) => void d.addFaces(MODEL, [newFace('alice', unitVectors(1)[0]!)]));
    const folder = path.join(tmp, 'a-folder');
    mkdirSync(folder);
    const photo = path.join(tmp, 'any.jpg');
    const folderSheet = runCli(['login', photo, '--store', store, '--sheet', folder]);
    expect(folderSheet.code, folderSheet.stderr).toBe(ExitCode.USAGE);
    expect(folderSheet.stderr).toBe(`facectl: ${folder}: --sheet names a folder: give the .png file to write\n`);
    const missing = runCli(['login', photo, '--store', store, '--sheet', path.join(tmp, 'missing', 'x.png')]);
    expect(missing.code, missing.stderr).toBe(ExitCode.NOT_FOUND);
    expect(missing.stderr).toMatch(/^facectl: .*--sheet: folder .*missing not found\n$/);
  });
});

describe.skipIf(!hasDatasets)(`login --all-faces --sheet${hasDatasets ? '' : ` (${SKIP_NO_DATA})`}`, () => {
  const env = { FACECTL_STORE: path.join(tmp, 'store'), FACECTL_CACHE_DIR: path.join(tmp, 'cache') };
  const ex = (p: string) => dataset('face-recognition-examples', p);

  it('has a row for every face in the photo', async () => {
    for (const [id, photo] of [['obama', 'barack_obama/obama.jpg'], ['biden', 'joe_biden/biden.jpg']]) {
      const e = runCli(['enroll', id!, ex(photo!)], env);
      expect(e.code, e.stderr).toBe(0);
    }
    const out = path.join(tmp, 'both.png');
    const r = runCli(['login', dataset('edge-cases', 'multi-face', 'obama_and_biden.jpg'), '--all-faces', '--sheet', out, '--json'], env);
    expect(r.code, r.stderr).toBe(0);
    const faces = (JSON.parse(r.stdout) as { faces: { id: string | null }[] }).faces;
    expect(faces.map((f) => f.id)).toEqual(expect.arrayContaining(['biden', 'obama'])); // and a third, unenrolled face
    expect((await sharp(out).metadata()).height).toBe(faces.length * SHEET_ROW_HEIGHT);
  });
});
