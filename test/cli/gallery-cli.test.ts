/**
 * CLI behaviour around the gallery that needs no datasets: a bad id creates nothing, `info` shows the
 * threshold `login` applies (user-added models too), and progress spinners stop when a command fails.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ExitCode } from '../../src/errors.js';
import { buildToyEmbedderOnnx } from '../../src/models/onnx/toy-embedder.js';
import { GalleryStore } from '../../src/store/index.js';
import { newFace, unitVectors } from '../gallery/contract.js';
import { CLI_ENTRY, runCli } from '../helpers/cli.js';
import { repoRoot } from '../helpers/shared.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'facectl-gallery-cli-'));
const userModels = { FACECTL_USER_MODELS_DIR: path.join(tmp, 'user-models') };

/** A store bound to `model` holding one face whose photo does not exist. */
async function storeOf(model: { id: string; hash: string; dimension: number }): Promise<string> {
  const dir = path.join(mkdtempSync(path.join(tmp, 'store-')), 'store');
  const v = unitVectors(1, model.dimension, 11)[0]!;
  await GalleryStore.mutate(dir, (d) => void d.addFaces(model, [newFace('alice', v, { sourcePath: path.join(tmp, 'gone', 'alice.jpg') })]));
  return dir;
}

/** The CLI with stderr as a (fake) terminal, so a spinner animates; killed after 120 s if it never exits. */
function runOnTerminal(argv: string[], env: NodeJS.ProcessEnv = {}) {
  const childEnv: NodeJS.ProcessEnv = { ...process.env, ...env, TERM: 'xterm' };
  delete childEnv.CI;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--import', path.join(repoRoot, 'test/helpers/fake-tty.ts'), CLI_ENTRY, ...argv], {
    cwd: repoRoot,
    env: childEnv,
    encoding: 'utf8',
    timeout: 120_000,
  });
  return { code: r.status, signal: r.signal, stderr: r.stderr };
}

describe('gallery commands without datasets', () => {
  it('enroll with an invalid id fails with exit 9 before creating the store', () => {
    const store = path.join(tmp, 'never-created');
    const r = runCli(['enroll', '../evil', path.join(tmp, 'whatever.jpg'), '--store', store]);
    expect(r.code, r.stderr).toBe(ExitCode.INVALID_ID);
    expect(r.stderr).toMatch(/^facectl: .*id/);
    expect(existsSync(store)).toBe(false);
  });

  it('an empty --store (an unset variable) is a usage error, not the default store', async () => {
    const dir = await storeOf({ id: 'm', hash: 'sha256:aa', dimension: 4 });
    const cases: [string[], string][] = [
      [['remove', 'alice', '--store', ''], 'the store location'],
      [['list', '--store', ''], 'the store location'],
      [['store', 'copy', '', path.join(tmp, 'copy')], '<from>'],
    ];
    for (const [argv, what] of cases) {
      const r = runCli(argv, { FACECTL_STORE: dir });
      expect(r.code, argv.join(' ')).toBe(ExitCode.USAGE);
      expect(r.stderr.trim()).toBe(`facectl: ${what} is empty: give a folder or a postgres:// URL`);
    }
    expect((await GalleryStore.open(dir)).identities().map((i) => i.id)).toEqual(['alice']);
  });

  it('info shows the login threshold of a user-added model (the one login applies), not "none"', async () => {
    const file = path.join(tmp, 'toy.onnx');
    writeFileSync(file, buildToyEmbedderOnnx({ inputSize: 112, dim: 64, layout: 'NCHW' }));
    expect(runCli(['models', 'add', file, '--id', 'toy-login'], userModels).code).toBe(0);
    const store = await storeOf({ id: 'toy-login', hash: 'fp:toy', dimension: 64 });
    const r = runCli(['info', '--store', store, '--json'], userModels);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).threshold).toMatchObject({ value: 0.4, source: 'model default' });
    expect(runCli(['info', '--store', store], userModels).stdout).toMatch(/threshold\s*│\s*0\.4000 \(model default\)/);
  });

  it('a failing enroll --dataset stops its spinner and exits with its code', async () => {
    const store = await storeOf({ id: 'dlib-resnet', hash: 'fp:another-version', dimension: 128 });
    const ds = path.join(tmp, 'dataset');
    mkdirSync(path.join(ds, 'bob'), { recursive: true });
    writeFileSync(path.join(ds, 'bob', 'bob.jpg'), 'not an image');
    const r = runOnTerminal(['enroll', '--dataset', ds, '--store', store]);
    expect([r.code, r.signal], r.stderr).toEqual([ExitCode.MODEL_MISMATCH, null]);
  }, 150_000);

  it('a failing index rebuild --reembed stops its spinner and exits with its code', async () => {
    const store = await storeOf({ id: 'dlib-resnet', hash: 'fp:x', dimension: 128 });
    const r = runOnTerminal(['index', 'rebuild', '--reembed', '--store', store]);
    expect([r.code, r.signal], r.stderr).toEqual([ExitCode.NOT_FOUND, null]);
    expect(r.stderr).toMatch(/cannot be re-embedded/);
  }, 150_000);
});
