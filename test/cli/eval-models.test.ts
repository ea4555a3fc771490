/**
 * `facectl eval` writes a report with charts and calibrates a store's threshold; `facectl models add`
 * registers a user ONNX embedder; `index rebuild --reembed` switches a store to another model.
 */
import { existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ExitCode } from '../../src/errors.js';
import { buildToyEmbedderOnnx } from '../../src/models/onnx/toy-embedder.js';
import { runCli } from '../helpers/cli.js';
import { SKIP_NO_DATA, dataset, hasDatasets } from '../helpers/shared.js';

describe.skipIf(!hasDatasets)(`eval, models, re-embed${hasDatasets ? '' : ` (${SKIP_NO_DATA})`}`, () => {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'facectl-eval-'));
  const store = path.join(tmp, 'store');
  const env = { FACECTL_STORE: store, FACECTL_CACHE_DIR: path.join(tmp, 'cache'), FACECTL_USER_MODELS_DIR: path.join(tmp, 'user-models') };
  const cli = (...argv: string[]) => runCli(argv, env);

  it('eval on a folder-per-identity set: metrics, charts, report, calibration into the store; the rerun hits the cache', () => {
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

    const again = JSON.parse(cli(...args).stdout);
    expect(again.throughput.cached).toBe(16);
    expect(again.throughput.embedded).toBe(0);
    expect(again.metrics.verification.allPairs.rocAuc).toBe(j.metrics.verification.allPairs.rocAuc);

    // Another face policy is another result: it must not be served from the 'center' cache.
    const largest = JSON.parse(cli('eval', '--dataset', dataset('face-recognition-examples'), '--reports', reports, '--face', 'largest', '--no-charts', '--json').stdout);
    expect(largest.throughput.cached).toBe(0);
    expect(largest.throughput.embedded).toBe(16);
  });

  it('login uses the calibrated threshold', () => {
    expect(cli('enroll', 'obama', dataset('face-recognition-examples/barack_obama/obama.jpg')).code).toBe(0);
    const r = cli('login', dataset('face-recognition-examples/barack_obama/obama3.jpg'), '--json');
    expect(JSON.parse(r.stdout).threshold.source).toMatch(/^calibrated on face-recognition-examples at FPR 0.1/);
  });

  it('eval on ORL PGM folders finds a face in every photo', () => {
    const r = cli('eval', '--dataset', dataset('orl-faces'), '--max-identities', '8', '--reports', path.join(tmp, 'reports'), '--no-charts', '--json');
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.metrics.failures.processed).toBe(80);
    expect(j.metrics.failures.images).toBe(0);
    expect(j.metrics.verification.allPairs.rocAuc).toBeGreaterThan(0.97);
  });

  it('models add registers a 112×112 NCHW ONNX embedder; bad files are refused', () => {
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
    const v = cli('verify', dataset('face-recognition-examples/barack_obama/obama.jpg'), dataset('face-recognition-examples/joe_biden/biden.jpg'), '--model', 'toy-arcface', '--json');
    expect([0, ExitCode.UNKNOWN_FACE]).toContain(v.code);
    expect(JSON.parse(v.stdout).model).toBe('toy-arcface');
  });

  it('index rebuild --reembed switches the store to another model; the old threshold is dropped', () => {
    const r = cli('index', 'rebuild', '--reembed', '--model', 'mobileface', '--json');
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).reembedded).toBe(1);
    const info = JSON.parse(cli('info', '--json').stdout);
    expect(info.model.id).toBe('mobileface');
    expect(info.threshold.source).toBe('model default');
    const login = cli('login', dataset('face-recognition-examples/barack_obama/obama3.jpg'), '--json');
    expect([0, ExitCode.UNKNOWN_FACE], login.stderr).toContain(login.code);
    expect(JSON.parse(login.stdout).threshold.source).toMatch(/^model default/);
    expect(readdirSync(store).some((f) => f.startsWith('index.'))).toBe(true);
  });
});
