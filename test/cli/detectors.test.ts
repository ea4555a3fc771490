/**
 * `--detector` on the commands that find faces; the detector is part of the store fingerprint, so a
 * store enrolled through one detector refuses faces found by another (exit 10); an unknown detector and
 * a user model onnxruntime cannot run are exit 13, not "internal error". Needs only the face-api samples.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ExitCode } from '../../src/errors.js';
import { buildToyEmbedderOnnx } from '../../src/models/onnx/toy-embedder.js';
import { constantOutputsOnnx, scrfdOutputs } from '../pipeline/detectors/fixtures/synthetic-detectors.js';
import { runCli } from '../helpers/cli.js';
import { SKIP_NO_SAMPLES, faceCrop, hasSamples } from '../helpers/samples.js';

describe.skipIf(!hasSamples)(`--detector${hasSamples ? '' : ` (${SKIP_NO_SAMPLES})`}`, () => {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'facectl-detectors-'));
  const env = { FACECTL_STORE: path.join(tmp, 'store'), FACECTL_USER_MODELS_DIR: path.join(tmp, 'user-models') };
  const cli = (...argv: string[]) => runCli(argv, env);

  it('detect --detector names the detector; an unknown one is exit 13 with the known ids', async () => {
    const a = await faceCrop('a');
    for (const id of ['blazeface-front', 'mtcnn', 'rfb320']) {
      const r = cli('detect', a, '--detector', id, '--json');
      expect(r.code, `${id}: ${r.stderr}`).toBe(0);
      expect(JSON.parse(r.stdout).results[0].faces.length, id).toBe(1);
    }
    const bad = cli('detect', a, '--detector', 'nope');
    expect(bad.code).toBe(ExitCode.MODEL_ERROR);
    expect(bad.stderr).toMatch(/^facectl: unknown detector "nope" \(known: blazeface, /);
  });

  it('a store enrolled through blazeface refuses a login through another detector (exit 10)', async () => {
    const [a, b] = [await faceCrop('a'), await faceCrop('b')];
    expect(cli('enroll', 'alice', a).code).toBe(0);
    expect(cli('login', a, '--json').code).toBe(0);
    const other = cli('login', a, '--detector', 'blazeface-front');
    expect(other.code, other.stderr).toBe(ExitCode.MODEL_MISMATCH);
    const enroll = cli('enroll', 'bob', b, '--detector', 'blazeface-front');
    expect(enroll.code, enroll.stderr).toBe(ExitCode.MODEL_MISMATCH);
  });

  it('a store remembers its detector: later commands use it without --detector; a store can switch with index rebuild --reembed --detector', async () => {
    const [a, b] = [await faceCrop('a'), await faceCrop('b')];
    const store = ['--store', path.join(tmp, 'front-store')];
    expect(cli('enroll', 'alice', a, '--detector', 'blazeface-front', ...store).code).toBe(0);
    const login = cli('login', a, ...store, '--json');
    expect(login.code, login.stderr).toBe(0);
    expect(cli('enroll', 'bob', b, ...store).code).toBe(0);
    expect(cli('login', a, '--detector', 'blazeface', ...store).code).toBe(ExitCode.MODEL_MISMATCH);
    const switched = cli('index', 'rebuild', '--reembed', '--detector', 'blazeface', ...store);
    expect(switched.code, switched.stderr).toBe(0);
    expect(cli('login', a, ...store).code).toBe(0);
    expect(cli('login', a, '--detector', 'blazeface-front', ...store).code).toBe(ExitCode.MODEL_MISMATCH);
  });

  it('a user embedder whose run fails at verify: exit 13 "cannot run", not an internal error', async () => {
    const file = path.join(tmp, 'fixed-batch.onnx');
    writeFileSync(file, buildToyEmbedderOnnx({ batch: 1 }));
    expect(cli('models', 'add', file, '--id', 'fixed').code).toBe(0); // its batch of 1 is freed and proved equal
    // A registry entry that no longer fits the file (as a hand edit or an old facectl could leave it).
    const registry = path.join(tmp, 'user-models', 'user-models.json');
    const json = JSON.parse(readFileSync(registry, 'utf8'));
    json.embedders[0].dim = 99;
    writeFileSync(registry, JSON.stringify(json));
    const r = cli('verify', await faceCrop('a'), await faceCrop('b'), '--model', 'fixed');
    expect(r.code, r.stderr).toBe(ExitCode.MODEL_ERROR);
    expect(r.stderr).toMatch(/^facectl: model fixed cannot run: no 99-d output/);
    expect(r.stderr).not.toContain('internal error');
  });

  it('models add takes an SCRFD file as a detector; detect --detector uses it; a file that cannot be one is exit 13 with the reason', async () => {
    // One face at stride 8, anchor 20 of a 64×64 input: box (8, 0) 24×24 in input pixels (see test/pipeline/detectors/user-detectors.test.ts).
    const face = { stride: 8, anchor: 20, score: 0.9, dist: [1, 1, 2, 2], kps: [0, 0.5, 1, 0.5, 0.5, 1, 0, 1.5, 1, 1.5] };
    const file = path.join(tmp, 'scrfd_kps.onnx');
    writeFileSync(file, constantOutputsOnnx([1, 3, 64, 64], scrfdOutputs(64, [face])));
    const added = cli('models', 'add', file, '--id', 'my-scrfd');
    expect(added.code, added.stderr).toBe(0);
    expect(added.stdout).toContain('use it with --detector my-scrfd');
    expect(cli('models', 'list').stdout).toContain('my-scrfd');
    const a = await faceCrop('a'); // 380×420: scale 64/420
    const r = cli('detect', a, '--detector', 'my-scrfd', '--json');
    expect(r.code, r.stderr).toBe(0);
    const [f] = JSON.parse(r.stdout).results[0].faces;
    const s = 64 / 420;
    expect(f.box.x).toBeCloseTo(8 / s, 3);
    expect(f.box.width).toBeCloseTo(24 / s, 3);

    const bad = path.join(tmp, 'two-outputs.onnx');
    writeFileSync(bad, constantOutputsOnnx([1, 3, 64, 64], [{ name: 'a', dims: [1, 7], data: new Float32Array(7) }, { name: 'b', dims: [1, 3], data: new Float32Array(3) }]));
    const refused = cli('models', 'add', bad);
    expect(refused.code).toBe(ExitCode.MODEL_ERROR);
    expect(refused.stderr).toMatch(/two-outputs\.onnx: 2 outputs .*not an embedder .* SCRFD .* YOLOv5-face/);
    expect(cli('models', 'remove', 'my-scrfd').code).toBe(0);
    expect(cli('detect', a, '--detector', 'my-scrfd').code).toBe(ExitCode.MODEL_ERROR);
  });
});
