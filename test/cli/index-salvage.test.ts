/**
 * A truncated embeddings.f32 through the real CLI: every row of data.csv still names its photo, so
 * `index rebuild` refuses to drop the faces that lost their embeddings (exit 11, nothing changed),
 * `--reembed` re-embeds them from their photos in one commit, `--drop-damaged` drops them. A toy user
 * embedder keeps it fast; needs the face-api samples.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, renameSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { ExitCode } from '../../src/errors.js';
import { buildToyEmbedderOnnx } from '../../src/models/onnx/toy-embedder.js';
import { runCli } from '../helpers/cli.js';
import { SKIP_NO_SAMPLES, faceCrop, hasSamples } from '../helpers/samples.js';
import { storeState } from '../helpers/store-checks.js';

describe.skipIf(!hasSamples)(`a truncated embeddings.f32${hasSamples ? '' : ` (${SKIP_NO_SAMPLES})`}`, () => {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'facectl-index-salvage-'));
  const env = { FACECTL_USER_MODELS_DIR: path.join(tmp, 'user-models'), FACECTL_CACHE_DIR: path.join(tmp, 'cache') };
  const base = path.join(tmp, 'base-store');
  const photos: Record<'a' | 'a2' | 'b' | 'c', string> = { a: '', a2: '', b: '', c: '' };
  const DIM = 64;

  /** A copy of the base store (alice: 2 faces, bob, carol) with embeddings.f32 cut inside its second row. */
  const damaged = (name: string) => {
    const store = path.join(tmp, name);
    cpSync(base, store, { recursive: true });
    truncateSync(path.join(store, 'embeddings.f32'), 256 + DIM * 4 + 100);
    return { store, cli: (...argv: string[]) => runCli([...argv, '--store', store], env) };
  };
  const identities = (cli: (...argv: string[]) => { stdout: string }) =>
    JSON.parse(cli('list', '--json').stdout).identities.map((i: { id: string; faces: number }) => [i.id, i.faces]);

  /** embeddings.f32's rows (the header, which records the generation, left out). */
  const embeddings = (store: string) => Array.from(new Float32Array(new Uint8Array(readFileSync(path.join(store, 'embeddings.f32')).subarray(256)).buffer));

  beforeAll(async () => {
    const model = path.join(tmp, 'toy-a.onnx');
    writeFileSync(model, buildToyEmbedderOnnx({ dim: DIM, seed: 1 }));
    expect(runCli(['models', 'add', model], env).code).toBe(0);
    for (const which of ['a', 'b', 'c'] as const) {
      photos[which] = path.join(tmp, `${which}.jpg`);
      await sharp(await faceCrop(which)).toFile(photos[which]);
    }
    photos.a2 = path.join(tmp, 'a2.jpg');
    await sharp(photos.a).flop().toFile(photos.a2);
    const cli = (...argv: string[]) => runCli([...argv, '--store', base], env);
    for (const [id, files] of [['alice', [photos.a, photos.a2]], ['bob', [photos.b]], ['carol', [photos.c]]] as const) {
      // --force: the toy embedder tells faces apart only barely (the duplicate check would refuse bob).
      const r = cli('enroll', id, ...files, '--model', 'toy-a', '--force');
      expect(r.code, r.stderr).toBe(0);
    }
    expect(identities(cli)).toEqual([['alice', 2], ['bob', 1], ['carol', 1]]);
  });

  it('index rebuild refuses (exit 11) with one line naming --reembed and --drop-damaged, and changes nothing', () => {
    const { store, cli } = damaged('refused');
    const before = storeState(store);
    const r = cli('index', 'rebuild');
    expect(r.code, r.stderr).toBe(ExitCode.STORE_ERROR);
    const lines = r.stderr.trim().split('\n');
    expect(lines, r.stderr).toHaveLength(1);
    expect(lines[0]).toMatch(
      /store is damaged: 3 faces of 3 identities lost their embeddings \(3 are past the end of embeddings\.f32, which was truncated to 1 of 4 embeddings\): `facectl index rebuild --reembed` re-embeds them from their photos; `--drop-damaged` drops them$/,
    );
    expect(storeState(store)).toEqual(before);
    expect(cli('list').code).toBe(ExitCode.STORE_ERROR); // still damaged, still all there to recover
  });

  it('index rebuild --reembed re-embeds every face from its photo: every identity is back and login works', () => {
    const { store, cli } = damaged('reembed');
    const r = cli('index', 'rebuild', '--reembed');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/faces re-embedded\s*│?\s*4/);
    expect(identities(cli)).toEqual([['alice', 2], ['bob', 1], ['carol', 1]]);
    const login = cli('login', photos.a, '--json');
    expect(login.code, login.stderr).toBe(0);
    expect(JSON.parse(login.stdout).faces[0]).toMatchObject({ decision: 'ACCEPT', id: 'alice' });
    // The same pipeline gives the same embeddings: every row is what enroll stored before the damage.
    expect(embeddings(store)).toEqual(embeddings(base));
    expect(JSON.parse(cli('info', '--json').stdout).model.id).toBe('toy-a');
    expect(cli('index', 'rebuild').code).toBe(0); // sound now
  });

  it('index rebuild --reembed with a photo gone refuses and commits nothing; with --drop-missing only that face goes', () => {
    const { store, cli } = damaged('photo-gone');
    const moved = path.join(tmp, 'b-moved.jpg');
    renameSync(photos.b, moved);
    try {
      const before = storeState(store);
      const r = cli('index', 'rebuild', '--reembed');
      expect(r.code, r.stderr).toBe(ExitCode.NOT_FOUND);
      expect(r.stderr).toContain(photos.b);
      expect(storeState(store)).toEqual(before);
      const dropping = cli('index', 'rebuild', '--reembed', '--drop-missing');
      expect(dropping.code, dropping.stderr).toBe(0);
      expect(identities(cli)).toEqual([['alice', 2], ['carol', 1]]);
    } finally {
      renameSync(moved, photos.b);
    }
  });

  // --drop-missing dropped every face that could not be re-embedded, also one whose photo was edited.
  it('a photo changed or no longer a picture: --drop-missing refuses with its exit code, nothing changed; --drop-unusable drops only those faces', async () => {
    const saved = { b: readFileSync(photos.b), c: readFileSync(photos.c) };
    await sharp(photos.a).resize(200).toFile(`${photos.b}.tmp.jpg`);
    renameSync(`${photos.b}.tmp.jpg`, photos.b); // bob's photo replaced by another picture
    writeFileSync(photos.c, 'not a picture any more');
    try {
      const store = path.join(tmp, 'changed');
      cpSync(base, store, { recursive: true });
      const cli = (...argv: string[]) => runCli([...argv, '--store', store], env);
      const before = storeState(store);
      for (const flags of [[], ['--drop-missing']]) {
        const r = cli('index', 'rebuild', '--reembed', '-q', ...flags);
        expect(r.code, r.stderr).toBe(ExitCode.NOT_FOUND); // the first: bob's photo changed (sha256)
        expect(r.stderr.trim().split('\n')).toHaveLength(1);
        expect(r.stderr).toMatch(/2 enrolled photo\(s\) cannot be re-embedded \(first: .*b\.jpg: the photo changed since it was enrolled.*--drop-unusable/);
        expect(storeState(store)).toEqual(before);
      }
      const dropping = cli('index', 'rebuild', '--reembed', '--drop-unusable');
      expect(dropping.code, dropping.stderr).toBe(0);
      expect(dropping.stderr).toMatch(/dropped: .*c\.jpg: /);
      expect(identities(cli)).toEqual([['alice', 2]]);
    } finally {
      writeFileSync(photos.b, saved.b);
      writeFileSync(photos.c, saved.c);
    }
  });

  it('a FIFO where a photo was is that photo\'s problem (exit 14), not a hang; every photo gone is never "dropped"', () => {
    const store = path.join(tmp, 'fifo');
    cpSync(base, store, { recursive: true });
    const cli = (...argv: string[]) => runCli([...argv, '--store', store, '-q'], env, undefined, 120_000);
    const before = storeState(store);
    renameSync(photos.c, `${photos.c}.kept`);
    execFileSync('mkfifo', [photos.c]);
    try {
      const r = cli('index', 'rebuild', '--reembed', '--drop-missing');
      expect(r.code, r.stderr).toBe(ExitCode.NOT_FOUND);
      expect(r.stderr).toMatch(/c\.jpg: a FIFO \(named pipe\), not a photo file/);
      expect(storeState(store)).toEqual(before);
    } finally {
      rmSync(photos.c);
      renameSync(`${photos.c}.kept`, photos.c);
    }
    // A moved folder or an unmounted drive: every photo gone. --drop-missing would have emptied the store.
    const moved = Object.values(photos).map((p) => [p, `${p}.away`] as const);
    for (const [p, away] of moved) renameSync(p, away);
    try {
      const r = cli('index', 'rebuild', '--reembed', '--drop-missing');
      expect(r.code, r.stderr).toBe(ExitCode.NOT_FOUND);
      expect(r.stderr).toMatch(/4 enrolled photo\(s\) cannot be re-embedded, every one the store holds .*nothing dropped: is their folder moved or a drive not mounted\?/);
      expect(storeState(store)).toEqual(before);
    } finally {
      for (const [p, away] of moved) renameSync(away, p);
    }
  });

  it('index rebuild --drop-damaged drops the faces that lost their embeddings, listing each', () => {
    const { cli } = damaged('drop');
    const r = cli('index', 'rebuild', '--drop-damaged');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/truncated: kept 1 of 4 embeddings/);
    expect(r.stderr.match(/dropped data\.csv row \d \(\w+\): embedding \d is past the end of embeddings\.f32/g)).toHaveLength(3);
    expect(identities(cli)).toEqual([['alice', 1]]);
  });
});
