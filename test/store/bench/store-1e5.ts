/**
 * Store scale bench: 1e5 faces × 512-d (≈200 MB dump). Run: npx tsx test/store/bench/store-1e5.ts [faces] [dim]
 * Prints wall and CPU times of: the bulk commit, open(), identities(), the lazy full row decode,
 * a one-face commit, a threshold-only commit, and a full verify(). Uses a temp directory it deletes afterwards.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { GalleryStore, type NewFace } from '../../../src/store/index.js';

// `--open-only <dir>`: what a login process does (fresh process, cold JIT): open, then identities().
if (process.argv[2] === '--open-only') {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const snapshot = await GalleryStore.open(process.argv[3]!);
  const t1 = performance.now();
  const cpu1 = process.cpuUsage(cpu0);
  snapshot.identities();
  const cpu2 = process.cpuUsage(cpu0);
  const ms = (n: number) => n.toFixed(0).padStart(5);
  console.log(
    `  fresh process: open wall ${ms(t1 - t0)} ms cpu ${ms((cpu1.user + cpu1.system) / 1000)} ms; ` +
      `+identities() wall ${ms(performance.now() - t1)} ms cpu ${ms((cpu2.user + cpu2.system - cpu1.user - cpu1.system) / 1000)} ms`,
  );
  process.exit(0);
}

const faces = Number(process.argv[2] ?? 100_000);
const dim = Number(process.argv[3] ?? 512);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'facectl-bench-'));
const model = { id: 'bench-model', hash: `sha256:${'0'.repeat(64)}`, dimension: dim };

function randomUnit(seed: number): Float32Array {
  const v = new Float32Array(dim);
  let s = seed * 2654435761 + 1;
  for (let i = 0; i < dim; i++) {
    s = (s * 1103515245 + 12345) >>> 0;
    v[i] = s / 2 ** 32 - 0.5;
  }
  return v;
}

const face = (i: number): NewFace => ({
  id: `person-${Math.floor(i / 5)}`,
  name: `Person Number ${Math.floor(i / 5)}`,
  sourcePath: `/data/photos/person-${Math.floor(i / 5)}/img_${String(i).padStart(6, '0')}.jpg`,
  imageSha256: (i.toString(16).padStart(8, '0')).repeat(8),
  box: { x: 100.25, y: 80.5, width: 120.75, height: 121 },
  quality: { score: 0.987654, eyeDistancePx: 45.123, sizePx: 121, rollDeg: -2.5, yawDeg: 7.25, sharpness: 123.456 },
  embedding: randomUnit(i),
});

/** Wall time, and CPU time of this process (user + system, all threads): on a shared machine the CPU figure is the stable one. */
const time = async <T>(label: string, fn: () => Promise<T> | T): Promise<T> => {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const out = await fn();
  const cpu = process.cpuUsage(cpu0);
  const ms = (n: number) => n.toFixed(0).padStart(6);
  console.log(`${label.padEnd(34)} wall ${ms(performance.now() - t0)} ms   cpu ${ms((cpu.user + cpu.system) / 1000)} ms`);
  return out;
};

try {
  // In a function so the 1e5 input faces are garbage before the opens (a login process never holds them).
  const bulk = () => {
    const batch = Array.from({ length: faces }, (_, i) => face(i));
    return GalleryStore.mutate(dir, (d) => void d.addFaces(model, batch)).then(() => undefined);
  };
  await time(`commit ${faces} faces (bulk)`, bulk);
  const sizes = ['data.csv', 'embeddings.f32'].map((f) => `${f} ${(fs.statSync(path.join(dir, f)).size / 1e6).toFixed(1)} MB`);
  console.log(sizes.join(', '));
  for (let i = 0; i < 3; i++) {
    process.stdout.write(execFileSync(process.execPath, ['--import', 'tsx', process.argv[1]!, '--open-only', dir], { encoding: 'utf8' }));
  }
  for (let i = 0; i < 3; i++) await time(`open() #${i + 1} (same process)`, () => GalleryStore.open(dir));
  const snap = await GalleryStore.open(dir);
  await time('identities() (derive means)', () => snap.identities().length);
  await time('rows (full decode, first access)', () => snap.rows.length);
  await time('commit +1 face', () => GalleryStore.mutate(dir, (d) => d.addFaces(model, [face(faces)])));
  await time('commit threshold only', () =>
    GalleryStore.mutate(dir, (d) => d.setThreshold({ value: 0.5, source: 'manual', date: new Date().toISOString(), model: model.id })),
  );
  await time('open({verifyEmbeddings}) ', () => GalleryStore.open(dir, { verifyEmbeddings: true }));
  const report = await time('verify()', () => GalleryStore.verify(dir));
  console.log(`verify ok: ${report.ok} ${report.problems.slice(0, 3).join('; ')}`);
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}
