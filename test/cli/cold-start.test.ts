/**
 * What a command loads before it can run: `--help` loads no model runtime, and `login` with cached
 * models loads neither the model converters, the PRelu rewrite nor the evaluation and drawing code (cold-start time:
 * README, Login latency). Each run records every module it loads (test/helpers/module-trace.mjs).
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { CLI_ENTRY } from '../helpers/cli.js';
import { SKIP_NO_SAMPLES, faceCrop, hasSamples } from '../helpers/samples.js';
import { repoRoot } from '../helpers/shared.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'facectl-cold-'));
let runs = 0;

/** Runs the CLI from source and returns its exit code and the modules it loaded (paths relative to the repository). */
function traced(argv: string[], env: NodeJS.ProcessEnv = {}): { code: number; stderr: string; modules: string[] } {
  const trace = path.join(tmp, `trace-${runs++}.txt`);
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--import', './test/helpers/module-trace.mjs', CLI_ENTRY, ...argv], {
    cwd: repoRoot,
    env: { ...process.env, ...env, FACECTL_TEST_MODULE_TRACE: trace },
    encoding: 'utf8',
    timeout: 300_000,
  });
  const modules = readFileSync(trace, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((url) => url.replace(`file://${repoRoot}/`, ''));
  return { code: r.status ?? -1, stderr: r.stderr, modules };
}

const loaded = (modules: string[], prefix: string) => modules.filter((m) => m.startsWith(prefix));

/** Code no command needs before it runs, and that login never needs with its models cached. */
const CONVERTERS = ['src/models/tflite/', 'src/models/tfjs-graph', 'src/models/dlib-resnet', 'src/models/onnx/free-batch'];
const REPORTING = ['src/eval/', 'src/cli/sheet', 'src/cli/draw', 'node_modules/@napi-rs/canvas', 'node_modules/chart.js', 'node_modules/ora/'];

describe('what commands load', () => {
  it('--help loads no model runtime, image library, store, converter or reporting code', () => {
    const r = traced(['--help']);
    expect(r.code, r.stderr).toBe(0);
    expect(loaded(r.modules, 'src/cli/main.ts')).toHaveLength(1); // the trace sees our own modules
    for (const prefix of ['node_modules/onnxruntime-node', 'node_modules/sharp', 'src/pipeline/pipeline', 'src/store/', 'src/gallery/', ...CONVERTERS, ...REPORTING]) {
      expect(loaded(r.modules, prefix), prefix).toEqual([]);
    }
  });

  it.skipIf(!hasSamples)(`login with cached models loads the runtime but no converter, PRelu rewrite, evaluation or drawing code${hasSamples ? '' : ` (${SKIP_NO_SAMPLES})`}`, async () => {
    const env = { FACECTL_STORE: path.join(tmp, 'store'), FACECTL_USER_MODELS_DIR: path.join(tmp, 'user-models') };
    const enroll = traced(['enroll', 'alice', await faceCrop('a')], env); // converts the models if the cache lacks them
    expect(enroll.code, enroll.stderr).toBe(0);
    const login = traced(['login', await faceCrop('a')], env);
    expect(login.code, login.stderr).toBe(0);
    // Controls: the runtime, sharp, the store and the detector did load, so the trace is complete enough to trust.
    for (const prefix of ['node_modules/onnxruntime-node', 'node_modules/sharp', 'src/store/store', 'src/pipeline/detectors/blazeface']) {
      expect(loaded(login.modules, prefix), prefix).not.toEqual([]);
    }
    // The PRelu rewrites were stored by the enroll: login neither redoes them nor loads the ONNX schema.
    for (const prefix of [...CONVERTERS, ...REPORTING, 'src/pipeline/detectors/mtcnn', 'src/pipeline/detectors/rfb320', 'src/models/onnx/prelu-rewrite', 'node_modules/onnx-proto']) {
      expect(loaded(login.modules, prefix), prefix).toEqual([]);
    }
  }, 600_000);
});
