/**
 * `--detector` on the commands that find faces; the detector is part of the store fingerprint, so a
 * store enrolled through one detector refuses faces found by another (exit 10); an unknown detector and
 * a user model onnxruntime cannot run are exit 13, not "internal error". Needs only the face-api samples.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ExitCode } from '../../src/errors.js';
import { buildToyEmbedderOnnx } from '../../src/models/onnx/toy-embedder.js';
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

  it('a user embedder with a fixed batch of 1: verify is exit 13 "cannot run", not an internal error', async () => {
    const file = path.join(tmp, 'fixed-batch.onnx');
    writeFileSync(file, buildToyEmbedderOnnx({ batch: 1 }));
    expect(cli('models', 'add', file, '--id', 'fixed').code).toBe(0);
    const r = cli('verify', await faceCrop('a'), await faceCrop('b'), '--model', 'fixed');
    expect(r.code, r.stderr).toBe(ExitCode.MODEL_ERROR);
    expect(r.stderr).toMatch(/^facectl: model fixed cannot run: /);
    expect(r.stderr).not.toContain('internal error');
  });
});
