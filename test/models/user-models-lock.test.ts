/**
 * `models add` and `models remove` read, check, copy and save user-models.json under the folder's lock
 * (src/models/user-models-lock.ts): an audit's concurrent adds lost entries (each saved the registry it
 * had read, without the others'). Here several CLI processes add at once; a lock left by a dead process is
 * broken; a live holder makes the others wait, then exit 11.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ExitCode, FacectlError } from '../../src/errors.js';
import { buildToyEmbedderOnnx } from '../../src/models/onnx/toy-embedder.js';
import { addUserModel, listUserModels, removeUserModel } from '../../src/models/user-models.js';
import { LOCK_FILE, withUserModelsLock } from '../../src/models/user-models-lock.js';
import { runCliAsync } from '../helpers/cli.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'facectl-user-models-lock-'));
const TOY = path.join(tmp, 'toy.onnx');
writeFileSync(TOY, buildToyEmbedderOnnx({ inputSize: 112, dim: 32 }));
const registered = (dir: string): string[] => JSON.parse(readFileSync(path.join(dir, 'user-models.json'), 'utf8')).embedders.map((s: { id: string }) => s.id).sort();
const saved = process.env.FACECTL_USER_MODELS_DIR;
afterAll(() => {
  if (saved === undefined) delete process.env.FACECTL_USER_MODELS_DIR;
  else process.env.FACECTL_USER_MODELS_DIR = saved;
});

describe('the user models folder is locked around read, check, copy and save', () => {
  it('six `models add` processes at once: every entry and copy is kept; then six removes at once leave none', async () => {
    const dir = path.join(tmp, 'six');
    const env = { FACECTL_USER_MODELS_DIR: dir };
    const ids = ['a', 'b', 'c', 'd', 'e', 'f'];
    const added = await Promise.all(ids.map((id) => runCliAsync(['models', 'add', TOY, '--id', id], env)));
    for (const r of added) expect(r.code, r.stderr).toBe(0);
    expect(registered(dir)).toEqual(ids);
    expect(readdirSync(dir).sort()).toEqual([...ids.map((id) => `${id}.onnx`), 'user-models.json']);
    const removed = await Promise.all(ids.map((id) => runCliAsync(['models', 'remove', id], env)));
    for (const r of removed) expect(r.code, r.stderr).toBe(0);
    expect(registered(dir)).toEqual([]);
    expect(readdirSync(dir)).toEqual(['user-models.json']);
  }, 120_000);

  it('three adds of one id at once: one is registered, the others are refused (exit 2)', async () => {
    const dir = path.join(tmp, 'same-id');
    const runs = await Promise.all([0, 1, 2].map(() => runCliAsync(['models', 'add', TOY, '--id', 'same'], { FACECTL_USER_MODELS_DIR: dir })));
    expect(runs.map((r) => r.code).sort()).toEqual([0, ExitCode.USAGE, ExitCode.USAGE]);
    expect(registered(dir)).toEqual(['same']);
  }, 120_000);

  it('a lock left by a process that is gone is broken', async () => {
    const dir = path.join(tmp, 'stale');
    mkdirSync(dir, { mode: 0o700 });
    // A pid that cannot be running (above Linux's pid_max).
    writeFileSync(path.join(dir, LOCK_FILE), JSON.stringify({ pid: 2 ** 22 + 1, hostname: os.hostname(), since: '2026-01-01T00:00:00.000Z', token: 'x' }));
    process.env.FACECTL_USER_MODELS_DIR = dir;
    await addUserModel(TOY, { id: 'toy' });
    expect((await listUserModels()).map((s) => s.id)).toEqual(['toy']);
    expect(existsSync(path.join(dir, LOCK_FILE))).toBe(false);
    await removeUserModel('toy');
  });

  it('a live holder is waited for, then exit 11 naming it and the lock file', async () => {
    const dir = path.join(tmp, 'live');
    mkdirSync(dir, { mode: 0o700 });
    writeFileSync(path.join(dir, LOCK_FILE), JSON.stringify({ pid: 1, hostname: os.hostname(), since: '2026-01-01T00:00:00.000Z', token: 'x' }));
    const err = await withUserModelsLock(dir, async () => 'ran', { timeoutMs: 300 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FacectlError);
    expect((err as FacectlError).code).toBe(ExitCode.STORE_ERROR);
    expect((err as FacectlError).oneLine()).toBe(
      `${dir}: the user models folder is locked by pid 1 since 2026-01-01T00:00:00.000Z (another \`facectl models add\` or \`remove\`); if no facectl is running, delete ${LOCK_FILE}`,
    );
    // Within one process, two holders take turns.
    const order: string[] = [];
    const hold = (tag: string) => withUserModelsLock(path.join(tmp, 'six'), async () => {
      order.push(`${tag}+`);
      await new Promise((r) => setTimeout(r, 30));
      order.push(`${tag}-`);
    });
    await Promise.all([hold('x'), hold('y')]);
    expect([order.slice(0, 2), order.slice(2)].map((p) => p[0]!.slice(0, 1) === p[1]!.slice(0, 1))).toEqual([true, true]);
  });
});
