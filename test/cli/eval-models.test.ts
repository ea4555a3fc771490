/**
 * `facectl eval` writes a report with charts and calibrates a store's threshold; `facectl models add`
 * registers a user ONNX embedder; `index rebuild --reembed` switches a store to another model.
 */
import { cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ExitCode } from '../../src/errors.js';
import { buildToyEmbedderOnnx } from '../../src/models/onnx/toy-embedder.js';
import { runCli } from '../helpers/cli.js';
import { SKIP_NO_DATA, dataset, hasDatasets } from '../helpers/shared.js';

describe.skipIf(!hasDatasets)(`eval, models, re-embed${hasDatasets ? '' : ` (${SKIP_NO_DATA})`}`, () => {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'facectl-eval-'));
  const base = path.join(tmp, 'base-store');
  /** Each test runs on its own copy of the base store (obama enrolled with dlib-resnet), so none depends on another having run. */
  const withStore = (name: string) => {
    const store = path.join(tmp, name);
    cpSync(base, store, { recursive: true });
    const env = { FACECTL_STORE: store, FACECTL_CACHE_DIR: path.join(tmp, 'cache'), FACECTL_USER_MODELS_DIR: path.join(tmp, `${name}-user-models`) };
    return { store, cli: (...argv: string[]) => runCli(argv, env) };
  };

  beforeAll(() => {
    const r = runCli(['enroll', 'obama', dataset('face-recognition-examples/barack_obama/obama.jpg')], { FACECTL_STORE: base });
    expect(r.code, r.stderr).toBe(0);
  });

  it('eval on a folder-per-identity set: metrics, charts, report, calibration into the store that login then uses; the rerun hits the cache', () => {
    const { store, cli } = withStore('calibrated');
    const reports = path.join(tmp, 'reports');
    const args = ['eval', '--dataset', dataset('face-recognition-examples'), '--reports', reports, '--calibrate', '--target-fpr', '0.1', '--json'];
    const r = cli(...args);
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.metrics.verification.allPairs.rocAuc).toBeGreaterThan(0.95);
    expect(j.metrics.identification.closedSet.rank1).toBeGreaterThan(0.8);
    expect(j.throughput.embedded).toBe(16);
    for (const f of ['metrics.json', 'report.md', 'failures.csv', 'roc.png', 'roc-log.png', 'score-histogram.png', 'cmc.png'])
      expect(existsSync(path.join(j.report, f)), f).toBe(true);
    expect(readFileSync(path.join(j.report, 'report.md'), 'utf8')).toContain('facectl eval --dataset');
    const manifest = JSON.parse(readFileSync(path.join(store, 'manifest.json'), 'utf8'));
    expect(manifest.threshold.source).toBe('calibrated');
    expect(manifest.threshold.targetFpr).toBe(0.1);
    expect(manifest.threshold.value).toBeCloseTo(j.calibrated.value, 10);
    const login = cli('login', dataset('face-recognition-examples/barack_obama/obama3.jpg'), '--json');
    expect(JSON.parse(login.stdout).threshold.source).toMatch(/^calibrated on face-recognition-examples at FPR 0.1/);

    const again = JSON.parse(cli(...args).stdout);
    expect(again.throughput.cached).toBe(16);
    expect(again.throughput.embedded).toBe(0);
    expect(again.metrics.verification.allPairs.rocAuc).toBe(j.metrics.verification.allPairs.rocAuc);

    // Another face policy is another result: it must not be served from the 'center' cache.
    const largest = JSON.parse(cli('eval', '--dataset', dataset('face-recognition-examples'), '--reports', reports, '--face', 'largest', '--no-charts', '--json').stdout);
    expect(largest.throughput.cached).toBe(0);
    expect(largest.throughput.embedded).toBe(16);
  });

  it('eval on ORL PGM folders finds a face in every photo', () => {
    const { cli } = withStore('orl');
    const r = cli('eval', '--dataset', dataset('orl-faces'), '--max-identities', '8', '--reports', path.join(tmp, 'reports'), '--no-charts', '--json');
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.metrics.failures.processed).toBe(80);
    expect(j.metrics.failures.images).toBe(0);
    expect(j.metrics.verification.allPairs.rocAuc).toBeGreaterThan(0.97);
  });

  it('models add registers a 112×112 NCHW ONNX embedder; bad files are refused', () => {
    const { cli } = withStore('user-model');
    const file = path.join(tmp, 'toy-arcface.onnx');
    writeFileSync(file, buildToyEmbedderOnnx({ inputSize: 112, dim: 64, layout: 'NCHW' }));
    const add = cli('models', 'add', file, '--json');
    expect(add.code, add.stderr).toBe(0);
    const spec = JSON.parse(add.stdout);
    expect([spec.id, spec.layout, spec.dim, spec.mean, spec.std]).toEqual(['toy-arcface', 'NCHW', 64, 127.5, 127.5]);
    expect(JSON.parse(cli('models', 'list', '--json').stdout).models.some((m: { id: string }) => m.id === 'toy-arcface')).toBe(true);
    expect(cli('models', 'add', file).code).toBe(ExitCode.USAGE); // same id twice
    const junk = path.join(tmp, 'junk.onnx');
    writeFileSync(junk, 'not a model');
    expect(cli('models', 'add', junk).code).toBe(ExitCode.MODEL_ERROR);
    // The toy model's scores mean nothing, so the decisions are pinned: a photo against itself is the
    // same embedding (similarity 1, SAME); two people under a threshold of 1 are DIFFERENT.
    const obama = dataset('face-recognition-examples/barack_obama/obama.jpg');
    const same = cli('verify', obama, obama, '--model', 'toy-arcface', '--json');
    expect(same.code, same.stderr).toBe(0);
    expect(JSON.parse(same.stdout)).toMatchObject({ model: 'toy-arcface', decision: 'SAME' });
    expect(JSON.parse(same.stdout).similarity).toBeCloseTo(1, 6);
    const v = cli('verify', obama, dataset('face-recognition-examples/joe_biden/biden.jpg'), '--model', 'toy-arcface', '--threshold', '1', '--json');
    expect(v.code, v.stderr).toBe(ExitCode.UNKNOWN_FACE);
    expect(JSON.parse(v.stdout)).toMatchObject({ model: 'toy-arcface', decision: 'DIFFERENT' });
    expect(JSON.parse(v.stdout).similarity).toBeLessThan(0.99999);
  });

  it('--calibrate alone fits a login (1:N) threshold at FPIR 1e-2, not the lenient 1:1 pairs one; --target-fpr asks for that', () => {
    const { store, cli } = withStore('login-calibrated');
    const base = ['eval', '--dataset', dataset('face-recognition-examples'), '--reports', path.join(tmp, 'reports'), '--no-charts', '--json'];
    const manifestThreshold = () => JSON.parse(readFileSync(path.join(store, 'manifest.json'), 'utf8')).threshold;
    // 4 strangers cannot measure a 1 % rate: the report says what was fitted, the store keeps no threshold.
    const tooFew = cli(...base, '--calibrate');
    expect(tooFew.code).toBe(ExitCode.USAGE);
    expect(tooFew.stderr.trim().split('\n')).toEqual(['facectl: threshold not written to the store: only 4 non-mated probes: a rate of 0.01 needs at least 100; the threshold rejects every one seen, but the true rate is not measured']);
    expect(JSON.parse(tooFew.stdout)).toMatchObject({ calibrated: { written: false }, metrics: { calibration: { basis: 'open-set', targetRate: 0.01, written: false } } });
    expect(existsSync(path.join(store, 'manifest.json')) ? manifestThreshold() : null).toBeFalsy();
    const login = cli(...base, '--calibrate', '--target-fpir', '0.3');
    expect(login.code, login.stderr).toBe(0);
    const threshold = manifestThreshold();
    expect(threshold).toMatchObject({ source: 'calibrated', basis: 'open-set', targetFpr: 0.3 });
    expect(threshold.value).toBeCloseTo(JSON.parse(login.stdout).calibrated.value, 10);
    // info says which rate: an open-set calibration is at an FPIR, and --json keeps the basis.
    expect(JSON.parse(cli('info', '--json').stdout).threshold).toMatchObject({ basis: 'open-set', targetFpr: 0.3 });
    expect(cli('info').stdout).toMatch(/threshold .*\(calibrated, face-recognition-examples, FPIR 0\.3, /);
    const pairs = cli(...base, '--calibrate', '--target-fpr', '0.1');
    expect(pairs.code, pairs.stderr).toBe(0);
    expect(JSON.parse(readFileSync(path.join(store, 'manifest.json'), 'utf8')).threshold).toMatchObject({ basis: 'pairs', targetFpr: 0.1 });
    for (const bad of [['--calibrate', '--target-fpr', '0.1', '--target-fpir', '0.01'], ['--target-fpr', '0.1']]) {
      const r = cli(...base, ...bad);
      expect(r.code, bad.join(' ')).toBe(ExitCode.USAGE);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
    }
  });

  it('index rebuild --reembed switches the store to another model; the old threshold is dropped', () => {
    const { store, cli } = withStore('reembed');
    const calibrate = cli('eval', '--dataset', dataset('face-recognition-examples'), '--reports', path.join(tmp, 'reports'), '--calibrate', '--target-fpr', '0.1', '--no-charts', '--json');
    expect(calibrate.code, calibrate.stderr).toBe(0);
    expect(JSON.parse(cli('info', '--json').stdout).threshold.source).toBe('calibrated');
    const r = cli('index', 'rebuild', '--reembed', '--model', 'mobileface', '--json');
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).reembedded).toBe(1);
    const info = JSON.parse(cli('info', '--json').stdout);
    expect(info.model.id).toBe('mobileface');
    expect(info.threshold.source).toBe('model default');
    // The enrolled photo itself logs in at similarity 1 only if its stored row was re-embedded with
    // mobileface exactly as enroll would embed it (same detection, alignment and model).
    const login = cli('login', dataset('face-recognition-examples/barack_obama/obama.jpg'), '--json');
    expect(login.code, login.stderr).toBe(0);
    const j = JSON.parse(login.stdout);
    expect(j.threshold.source).toMatch(/^model default/);
    expect(j.faces[0]).toMatchObject({ decision: 'ACCEPT', id: 'obama' });
    expect(j.faces[0].score).toBeCloseTo(1, 5);
    expect(readdirSync(store).some((f) => f.startsWith('index.'))).toBe(true);
  });
});
