/**
 * npm run bench:detectors — faces found by each BlazeFace model on the edge-case photos that hold faces
 * (group photos, high resolution, pose, rotation), in both detection modes, with time per photo. With
 * bench:accuracy (LFW) it is how the default detector was chosen: the front model is as accurate on LFW's
 * centred faces and faster, but misses small faces in group photos.
 *
 *   npx tsx bench/detectors.ts [--json out.json]
 */
import { readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { decodeImageFile } from '../src/pipeline/decode.js';
import { loadDetector } from '../src/pipeline/detectors/registry.js';
import { datasetsDir } from '../test/helpers/shared.js';

const FOLDERS = ['multi-face', 'quality-resolution', 'single-face', 'pose', 'rotated', 'same-person-rdj', 'same-person-kun'];
const DETECTORS = ['blazeface', 'blazeface-front'] as const;
const MODES = ['fast', 'thorough'] as const;

const root = path.join(datasetsDir, 'edge-cases');
const detectors = await Promise.all(DETECTORS.map(async (id) => ({ id, detector: await loadDetector(id) })));

type Key = `${string}/${(typeof MODES)[number]}`;
const rows: { folder: string; photos: number; faces: Record<Key, number>; ms: Record<Key, number> }[] = [];
for (const folder of FOLDERS) {
  const row = { folder, photos: 0, faces: {} as Record<Key, number>, ms: {} as Record<Key, number> };
  for (const file of readdirSync(path.join(root, folder)).sort()) {
    if (file.endsWith('.md')) continue;
    const image = await decodeImageFile(path.join(root, folder, file));
    row.photos++;
    for (const d of detectors)
      for (const mode of MODES) {
        const key: Key = `${d.id}/${mode}`;
        const t0 = performance.now();
        row.faces[key] = (row.faces[key] ?? 0) + (await d.detector.detect(image, { mode })).length;
        row.ms[key] = (row.ms[key] ?? 0) + performance.now() - t0;
      }
  }
  rows.push(row);
}

const keys = detectors.flatMap((d) => MODES.map((m) => `${d.id}/${m}` as Key));
console.log(`# faces found in ../shared/datasets/edge-cases (faces / ms per photo), FaceMesh-confirmed\n`);
console.log(`| folder | photos | ${keys.join(' | ')} |`);
console.log(`|---|---:|${keys.map(() => '---:').join('|')}|`);
const total = { photos: 0, faces: {} as Record<Key, number>, ms: {} as Record<Key, number> };
for (const r of rows) {
  total.photos += r.photos;
  for (const k of keys) {
    total.faces[k] = (total.faces[k] ?? 0) + r.faces[k]!;
    total.ms[k] = (total.ms[k] ?? 0) + r.ms[k]!;
  }
  console.log(`| ${r.folder} | ${r.photos} | ${keys.map((k) => `${r.faces[k]} / ${(r.ms[k]! / r.photos).toFixed(0)}`).join(' | ')} |`);
}
console.log(`| **all** | ${total.photos} | ${keys.map((k) => `**${total.faces[k]}** / ${(total.ms[k]! / total.photos).toFixed(0)}`).join(' | ')} |`);
const i = process.argv.indexOf('--json');
if (i > 0) writeFileSync(process.argv[i + 1]!, JSON.stringify(rows, null, 2));
