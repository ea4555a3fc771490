/**
 * The default embedder is ensemble-noflip; stores built with an earlier default (dlib-resnet until
 * 2026-12-03, ensemble until 2026-12-07) keep working without --model, because their manifest names
 * their model, until `index rebuild --reembed --model` moves them.
 */
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ExitCode } from '../../src/errors.js';
import { DEFAULT_EMBEDDER } from '../../src/models/registry.js';
import { runCli } from '../helpers/cli.js';
import { SKIP_NO_DATA, dataset, hasDatasets } from '../helpers/shared.js';

describe.skipIf(!hasDatasets)(`default model and older dlib stores${hasDatasets ? '' : ` (${SKIP_NO_DATA})`}`, () => {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'facectl-default-model-'));
  const env = { FACECTL_STORE: path.join(tmp, 'store'), FACECTL_CACHE_DIR: path.join(tmp, 'cache'), FACECTL_USER_MODELS_DIR: path.join(tmp, 'user-models') };
  const cli = (...argv: string[]) => runCli(argv, env);
  const ex = (f: string) => dataset('face-recognition-examples', f);

  it('the default is ensemble-noflip (verify names it)', () => {
    expect(DEFAULT_EMBEDDER).toBe('ensemble-noflip');
    const v = cli('verify', ex('joe_biden/biden.jpg'), ex('joe_biden/biden2.jpg'), '--json');
    expect(v.code, v.stderr).toBe(0);
    expect(JSON.parse(v.stdout).model).toBe('ensemble-noflip');
  });

  it('a dlib-resnet store: login without --model uses dlib-resnet and its View 1 threshold; reembed moves it to the ensemble, then to the default', () => {
    expect(cli('enroll', 'biden', ex('joe_biden/biden.jpg'), '--model', 'dlib-resnet').code).toBe(0);
    expect(cli('enroll', 'obama', ex('barack_obama/obama.jpg')).code).toBe(0); // no --model: the store's
    const login = cli('login', ex('joe_biden/biden2.jpg'), '--json');
    expect(login.code, login.stderr).toBe(0);
    const j = JSON.parse(login.stdout);
    expect(j.threshold.value).toBe(0.9519);
    expect(JSON.parse(cli('info', '--json').stdout).model.id).toBe('dlib-resnet');
    // Asking for another model on this store is refused, not mixed in.
    expect(cli('enroll', 'kit', ex('kit_harington/john1.jpeg'), '--model', 'ensemble').code).toBe(ExitCode.MODEL_MISMATCH);
    const r = cli('index', 'rebuild', '--reembed', '--model', 'ensemble', '--json');
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(cli('info', '--json').stdout).model.id).toBe('ensemble');
    const again = cli('login', ex('joe_biden/biden2.jpg'), '--json');
    expect(again.code, again.stderr).toBe(0);
    expect(JSON.parse(again.stdout).threshold.value).toBe(0.4779);
    // An ensemble store (the default before 2026-12-07) moves to the default the same way.
    const moved = cli('index', 'rebuild', '--reembed', '--model', DEFAULT_EMBEDDER, '--json');
    expect(moved.code, moved.stderr).toBe(0);
    expect(JSON.parse(cli('info', '--json').stdout).model.id).toBe('ensemble-noflip');
    const last = cli('login', ex('joe_biden/biden2.jpg'), '--json');
    expect(last.code, last.stderr).toBe(0);
    expect(JSON.parse(last.stdout).threshold.value).toBe(0.505);
  });
});
