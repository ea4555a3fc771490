/**
 * Commands that work on a store use its embedder and detector for whatever --model / --detector leave
 * unsaid: `index rebuild --reembed --model` switches the model only, and `eval --calibrate` measures the
 * threshold with the pair the store was built with. Toy user embedders keep it fast; needs the face-api samples.
 */
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { ExitCode } from '../../src/errors.js';
import { buildToyEmbedderOnnx } from '../../src/models/onnx/toy-embedder.js';
import { runCli } from '../helpers/cli.js';
import { SKIP_NO_SAMPLES, faceCrop, hasSamples } from '../helpers/samples.js';

describe.skipIf(!hasSamples)(`a store's model and detector are the defaults${hasSamples ? '' : ` (${SKIP_NO_SAMPLES})`}`, () => {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'facectl-store-defaults-'));
  const env = { FACECTL_USER_MODELS_DIR: path.join(tmp, 'user-models'), FACECTL_CACHE_DIR: path.join(tmp, 'cache') };
  const cli = (...argv: string[]) => runCli(argv, env);
  /** A store with one face embedded by toy-a through blazeface-front (not the default detector). */
  const frontStore = (name: string) => {
    const store = path.join(tmp, name);
    const r = cli('enroll', 'alice', crops[0]!, '--model', 'toy-a', '--detector', 'blazeface-front', '--store', store);
    expect(r.code, r.stderr).toBe(0);
    return store;
  };
  const crops: string[] = [];

  beforeAll(async () => {
    for (const [id, dim, seed] of [['toy-a', 64, 1], ['toy-b', 32, 2]] as const) {
      const file = path.join(tmp, `${id}.onnx`);
      writeFileSync(file, buildToyEmbedderOnnx({ dim, seed }));
      expect(cli('models', 'add', file).code).toBe(0);
    }
    for (const which of ['a', 'b', 'c'] as const) crops.push(await faceCrop(which));
  });

  it('index rebuild --reembed --model keeps the store’s detector', () => {
    const store = frontStore('reembed');
    const r = cli('index', 'rebuild', '--reembed', '--model', 'toy-b', '--store', store);
    expect(r.code, r.stderr).toBe(0);
    const { model } = JSON.parse(cli('info', '--store', store, '--json').stdout);
    expect(model.id).toBe('toy-b');
    expect(model.hash).toMatch(/@blazeface-front$/);
  });

  it('eval --calibrate measures with the store’s model and detector; another detector is refused naming --detector', async () => {
    const store = frontStore('calibrate');
    // Three people, two photos each (a crop and its mirror image): enough for generated pairs.
    const ds = path.join(tmp, 'dataset');
    for (const [i, crop] of crops.entries()) {
      mkdirSync(path.join(ds, `p${i}`), { recursive: true });
      await sharp(crop).toFile(path.join(ds, `p${i}`, '1.jpg'));
      await sharp(crop).flop().toFile(path.join(ds, `p${i}`, '2.jpg'));
    }
    const evalArgs = ['eval', '--dataset', ds, '--calibrate', '--target-fpr', '0.5', '--store', store, '--reports', path.join(tmp, 'reports'), '--no-charts', '-q'];
    const r = cli(...evalArgs);
    expect(r.code, r.stderr).toBe(0);
    const manifest = JSON.parse(readFileSync(path.join(store, 'manifest.json'), 'utf8'));
    expect(manifest.threshold).toMatchObject({ source: 'calibrated', model: 'toy-a' });
    const cached = () => readdirSync(env.FACECTL_CACHE_DIR, { recursive: true }).sort();
    const before = cached();
    const other = cli(...evalArgs, '--detector', 'blazeface');
    expect(other.code, other.stderr).toBe(ExitCode.MODEL_MISMATCH);
    expect(other.stderr).toMatch(/^facectl: store was built with model toy-a and detector blazeface-front; .* --model toy-a --detector blazeface-front/);
    // Refused before the evaluation: nothing embedded (the new detector's cache would hold it).
    expect(cached()).toEqual(before);
  });
});

describe('--help', () => {
  it("says that login, enroll and serve use the store's detector, and eval --calibrate too", () => {
    const detectorHelp = (...command: string[]) => {
      const r = runCli([...command, '--help']);
      expect(r.code).toBe(0);
      return r.stdout.replace(/\s+/g, ' ').match(/--detector <id> +(.*?\))/)![1];
    };
    for (const command of ['login', 'enroll', 'serve']) expect(detectorHelp(command), command).toMatch(/^face detector \(default the store's; blazeface for a new store;/);
    expect(detectorHelp('eval')).toMatch(/^face detector \(default blazeface; with --calibrate, the store's;/);
    expect(detectorHelp('detect')).toMatch(/^face detector \(default blazeface;/);
  });
});
