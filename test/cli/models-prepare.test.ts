/** `facectl models prepare`: a model that cannot be prepared does not keep the others from being prepared; the command still fails, naming it. */
import { existsSync, mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ExitCode } from '../../src/errors.js';
import { runCli } from '../helpers/cli.js';

describe('models prepare', () => {
  it('goes on past a model it cannot prepare and exits with that error at the end', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'facectl-prepare-'));
    const r = runCli(['models', 'prepare', 'no-such-model', 'facemesh'], { FACECTL_MODELS_DIR: dir });
    expect(r.code, r.stderr).toBe(ExitCode.MODEL_ERROR);
    expect(existsSync(path.join(dir, 'facemesh.onnx'))).toBe(true);
    expect(r.stderr).toMatch(/no-such-model: unknown built-in model "no-such-model"/);
    expect(r.stderr.trim().split('\n').at(-1)).toMatch(/^facectl: 1 of 2 model\(s\) not prepared; first: unknown built-in model "no-such-model"/);
  }, 120_000);
});
