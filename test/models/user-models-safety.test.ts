/**
 * The user models folder and its registry are trusted by the models cache's rule (src/models/cache-safety.ts,
 * src/models/user-models-registry.ts; README: Privacy and safety): an audit found that with the folder 0777
 * another user replaced user-models.json (thresholds −1) and `login` accepted a stranger. When someone else
 * could have written them, what changes the registry or prunes by it (models add, remove, prune) answers
 * exit 13 in one line naming the folder or file and the fix; what only uses it (models list, --model /
 * --detector resolution) uses no user model at all, with one warning, so built-in models keep working and a
 * user model's id is unknown. A folder of another user is made by chown where the tests run as root.
 */
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readFileSync, renameSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ExitCode } from '../../src/errors.js';
import { buildToyEmbedderOnnx } from '../../src/models/onnx/toy-embedder.js';
import { findEmbedderSpec } from '../../src/models/resolve.js';
import { pruneModelsCache } from '../../src/models/prune.js';
import { DEFAULT_EMBEDDER } from '../../src/models/registry.js';
import { addUserModel, listUserModels, removeUserModel, verifyUserModelFile } from '../../src/models/user-models.js';
import { runCli } from '../helpers/cli.js';
import { refusal } from '../helpers/refusal.js';

const isRoot = process.getuid?.() === 0;
const NOBODY = 65534;
const tmp = mkdtempSync(path.join(os.tmpdir(), 'facectl-user-models-safety-'));
const TOY = path.join(tmp, 'toy.onnx');
writeFileSync(TOY, buildToyEmbedderOnnx({ inputSize: 112, dim: 32 }));

const saved = { user: process.env.FACECTL_USER_MODELS_DIR, data: process.env.XDG_DATA_HOME };
afterAll(() => {
  for (const [key, value] of [['FACECTL_USER_MODELS_DIR', saved.user], ['XDG_DATA_HOME', saved.data]] as const)
    if (value === undefined) delete process.env[key];
    else process.env[key] = value;
});

/** A fresh user models folder with the toy model registered as "toy". */
async function registered(tag: string): Promise<string> {
  const dir = path.join(mkdtempSync(path.join(tmp, `${tag}-`)), 'user-models');
  process.env.FACECTL_USER_MODELS_DIR = dir;
  await addUserModel(TOY, { id: 'toy' });
  return dir;
}

/** Every way a command changes the registry or prunes by it: refused. */
const changers = [() => removeUserModel('toy'), () => addUserModel(TOY, { id: 'other' }), () => pruneModelsCache({ dryRun: true, modelsDir: path.join(tmp, 'no-models') })];

/** Every way a command only uses it: no user model exists for this run (the built-ins are unaffected). */
async function expectNotUsed(): Promise<void> {
  expect(await listUserModels()).toEqual([]);
  const unknown = await refusal(() => findEmbedderSpec('toy'));
  expect(unknown.line).toBe('unknown model "toy": your models are not used this run (their folder may not be trusted: see the warning above)');
  expect((await findEmbedderSpec(DEFAULT_EMBEDDER)).id).toBe(DEFAULT_EMBEDDER);
}

describe('the user models folder and user-models.json are trusted only when nobody else could have written them', () => {
  it('a folder writable by others (0777) or by its group is refused by every reader, exit 13, naming it and `chmod go-w`', async () => {
    for (const mode of [0o777, 0o770]) {
      const dir = await registered(`mode-${mode.toString(8)}`);
      chmodSync(dir, mode);
      for (const change of changers) {
        const r = await refusal(change);
        expect(r.code).toBe(ExitCode.MODEL_ERROR);
        expect(r.line).toContain(`${dir}: user models folder is writable by`);
        expect(r.line).toContain('`chmod go-w` it');
      }
      await expectNotUsed();
      chmodSync(dir, 0o700);
      expect((await listUserModels()).map((s) => s.id)).toEqual(['toy']);
    }
  });

  it('user-models.json or a model copy writable by others, or a link, is refused', async () => {
    const dir = await registered('files');
    const registry = path.join(dir, 'user-models.json');
    chmodSync(registry, 0o666);
    const r = await refusal(() => removeUserModel('toy'));
    expect(r.code).toBe(ExitCode.MODEL_ERROR);
    expect(r.line).toMatch(/user-models\.json: user models file is writable by group and others \(mode 0666\)/);
    await expectNotUsed();
    chmodSync(registry, 0o600);

    const spec = (await listUserModels())[0]!;
    chmodSync(path.join(dir, 'toy.onnx'), 0o646);
    const copy = await refusal(() => verifyUserModelFile(spec));
    expect(copy.code).toBe(ExitCode.MODEL_ERROR);
    expect(copy.line).toMatch(/toy\.onnx: user models file is writable by others/);
    chmodSync(path.join(dir, 'toy.onnx'), 0o600);
    await verifyUserModelFile(spec);

    // A registry that is a link to a file elsewhere (which someone else may write) is not followed.
    renameSync(registry, path.join(tmp, 'elsewhere.json'));
    symlinkSync(path.join(tmp, 'elsewhere.json'), registry);
    const link = await refusal(() => removeUserModel('toy'));
    expect(link.code).toBe(ExitCode.MODEL_ERROR);
    await expectNotUsed();
    expect(link.line).toContain('user-models.json: user models file is a symbolic link');
  });

  it.skipIf(!isRoot)(`a folder or user-models.json of another user (chown nobody) is refused, naming \`chown\`${isRoot ? '' : ' (skipped: needs root to chown)'}`, async () => {
    const dir = await registered('owner');
    chownSync(path.join(dir, 'user-models.json'), NOBODY, NOBODY);
    const file = await refusal(() => removeUserModel('toy'));
    expect(file.code).toBe(ExitCode.MODEL_ERROR);
    await expectNotUsed();
    expect(file.line).toMatch(/user-models\.json: user models file belongs to another user \(uid 65534\).*`chown` it to yourself/);
    chownSync(path.join(dir, 'user-models.json'), 0, 0);
    chownSync(dir, NOBODY, NOBODY);
    const folder = await refusal(() => addUserModel(TOY, { id: 'other' }));
    expect(folder.line).toContain(`${dir}: user models folder belongs to another user (uid 65534)`);
    await expectNotUsed();
  });

  it('the default folder is trusted from the XDG data home down: a group-writable data home is not used once the folder exists', async () => {
    delete process.env.FACECTL_USER_MODELS_DIR;
    const data = path.join(mkdtempSync(path.join(tmp, 'xdg-')), 'data');
    process.env.XDG_DATA_HOME = data;
    expect(await listUserModels()).toEqual([]); // nothing registered: nothing to refuse
    await addUserModel(TOY, { id: 'toy' });
    for (const f of [data, path.join(data, 'facectl'), path.join(data, 'facectl', 'models')]) expect(statSync(f).mode & 0o777, f).toBe(0o700);
    chmodSync(data, 0o775);
    const r = await refusal(() => removeUserModel('toy'));
    expect(r.line).toContain(`${data}: user models folder is writable by its group (mode 0775)`);
    await expectNotUsed();
    chmodSync(data, 0o700);
    chmodSync(path.join(data, 'facectl'), 0o777);
    expect((await refusal(() => removeUserModel('toy'))).line).toContain(`${path.join(data, 'facectl')}: user models folder is writable by group and others`);
    chmodSync(path.join(data, 'facectl'), 0o700);
    expect((await listUserModels()).map((m) => m.id)).toEqual(['toy']);
  });

  it('an existing folder of yours that others can read is made 0700 at the next add', async () => {
    const dir = path.join(mkdtempSync(path.join(tmp, 'loose-')), 'user-models');
    mkdirSync(dir, { mode: 0o755 });
    chmodSync(dir, 0o755);
    process.env.FACECTL_USER_MODELS_DIR = dir;
    await addUserModel(TOY, { id: 'toy' });
    expect(statSync(dir).mode & 0o777).toBe(0o700);
  });

  it('thresholds must be finite cosines in [−1, 1]', async () => {
    const dir = await registered('thresholds');
    const registry = path.join(dir, 'user-models.json');
    const good = readFileSync(registry, 'utf8');
    for (const [value, shown] of [[-1.5, '-1.5'], [2, '2'], ['"0.3"', '"0.3"'], [null, 'null']] as const) {
      const doc = JSON.parse(good);
      doc.embedders[0].thresholds.login.value = typeof value === 'string' ? JSON.parse(value) : value;
      writeFileSync(registry, JSON.stringify(doc));
      const r = await refusal(() => findEmbedderSpec('toy'));
      expect(r.code).toBe(ExitCode.MODEL_ERROR);
      expect(r.line).toBe(`${registry}: entry "toy": thresholds.login.value must be a number from -1 to 1 (got ${shown}) (repair it, or move it away and \`facectl models add\` your models again)`);
    }
  });

  it('the CLI: `models list` on a 0777 folder lists the built-ins with one warning; `models add` there is one line, exit 13', () => {
    const dir = path.join(mkdtempSync(path.join(tmp, 'cli-')), 'user-models');
    mkdirSync(dir);
    chmodSync(dir, 0o777);
    const list = runCli(['models', 'list', '--json'], { FACECTL_USER_MODELS_DIR: dir });
    expect(list.code, list.stderr).toBe(0);
    expect(JSON.stringify(JSON.parse(list.stdout))).toContain(DEFAULT_EMBEDDER);
    expect(list.stderr.trim().split('\n')).toEqual([
      `warning: your models (facectl models add) not used: ${dir}: user models folder is writable by group and others (mode 0777): whoever can write it could have replaced a model or its thresholds; check user-models.json and the model files in it, then \`chmod go-w\` it (README: Privacy and safety)`,
    ]);
    const add = runCli(['models', 'add', TOY, '--id', 'toy'], { FACECTL_USER_MODELS_DIR: dir });
    expect(add.code).toBe(ExitCode.MODEL_ERROR);
    expect(add.stderr.trim().split('\n')).toHaveLength(1);
    expect(add.stderr).toContain(`facectl: ${dir}: user models folder is writable by group and others (mode 0777)`);
  });
});
