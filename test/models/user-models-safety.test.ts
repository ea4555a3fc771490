/**
 * The user models folder and its registry are trusted by the models cache's rule (src/models/cache-safety.ts,
 * src/models/user-models-registry.ts; README: Privacy and safety), and refused, not skipped, when someone
 * else could have written them: an audit found that with the folder 0777 another user replaced
 * user-models.json (thresholds −1) and `login` accepted a stranger. Every command that reads the registry
 * (models list, add, remove, --model / --detector resolution) answers exit 13 in one line naming the folder
 * or file and the fix. A folder of another user is made by chown where the tests run as root.
 */
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readFileSync, renameSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ExitCode, FacectlError } from '../../src/errors.js';
import { buildToyEmbedderOnnx } from '../../src/models/onnx/toy-embedder.js';
import { findEmbedderSpec } from '../../src/models/resolve.js';
import { addUserModel, listUserModels, removeUserModel, verifyUserModelFile } from '../../src/models/user-models.js';
import { runCli } from '../helpers/cli.js';

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

/** What `fn` throws: its exit code and one line. */
async function refusal(fn: () => Promise<unknown>): Promise<{ code: number; line: string }> {
  try {
    await fn();
  } catch (err) {
    if (!(err instanceof FacectlError)) throw err;
    return { code: err.code, line: err.oneLine() };
  }
  throw new Error('not refused');
}

/** Every way a command reads the registry. */
const readers = [
  () => listUserModels(),
  () => findEmbedderSpec('toy'),
  () => removeUserModel('toy'),
  () => addUserModel(TOY, { id: 'other' }),
];

describe('the user models folder and user-models.json are trusted only when nobody else could have written them', () => {
  it('a folder writable by others (0777) or by its group is refused by every reader, exit 13, naming it and `chmod go-w`', async () => {
    for (const mode of [0o777, 0o770]) {
      const dir = await registered(`mode-${mode.toString(8)}`);
      chmodSync(dir, mode);
      for (const read of readers) {
        const r = await refusal(read);
        expect(r.code).toBe(ExitCode.MODEL_ERROR);
        expect(r.line).toContain(`${dir}: user models folder is writable by`);
        expect(r.line).toContain('`chmod go-w` it');
      }
      chmodSync(dir, 0o700);
      expect((await listUserModels()).map((s) => s.id)).toEqual(['toy']);
    }
  });

  it('user-models.json or a model copy writable by others, or a link, is refused', async () => {
    const dir = await registered('files');
    const registry = path.join(dir, 'user-models.json');
    chmodSync(registry, 0o666);
    const r = await refusal(() => listUserModels());
    expect(r.code).toBe(ExitCode.MODEL_ERROR);
    expect(r.line).toMatch(/user-models\.json: user models file is writable by group and others \(mode 0666\)/);
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
    const link = await refusal(() => listUserModels());
    expect(link.code).toBe(ExitCode.MODEL_ERROR);
    expect(link.line).toContain('user-models.json: user models file is a symbolic link');
  });

  it.skipIf(!isRoot)(`a folder or user-models.json of another user (chown nobody) is refused, naming \`chown\`${isRoot ? '' : ' (skipped: needs root to chown)'}`, async () => {
    const dir = await registered('owner');
    chownSync(path.join(dir, 'user-models.json'), NOBODY, NOBODY);
    const file = await refusal(() => findEmbedderSpec('toy'));
    expect(file.code).toBe(ExitCode.MODEL_ERROR);
    expect(file.line).toMatch(/user-models\.json: user models file belongs to another user \(uid 65534\).*`chown` it to yourself/);
    chownSync(path.join(dir, 'user-models.json'), 0, 0);
    chownSync(dir, NOBODY, NOBODY);
    const folder = await refusal(() => listUserModels());
    expect(folder.line).toContain(`${dir}: user models folder belongs to another user (uid 65534)`);
  });

  it('the default folder is trusted from the XDG data home down: a group-writable data home is refused once the folder exists', async () => {
    delete process.env.FACECTL_USER_MODELS_DIR;
    const data = path.join(mkdtempSync(path.join(tmp, 'xdg-')), 'data');
    process.env.XDG_DATA_HOME = data;
    expect(await listUserModels()).toEqual([]); // nothing registered: nothing to refuse
    await addUserModel(TOY, { id: 'toy' });
    for (const f of [data, path.join(data, 'facectl'), path.join(data, 'facectl', 'models')]) expect(statSync(f).mode & 0o777, f).toBe(0o700);
    chmodSync(data, 0o775);
    const r = await refusal(() => listUserModels());
    expect(r.line).toContain(`${data}: user models folder is writable by its group (mode 0775)`);
    chmodSync(data, 0o700);
    chmodSync(path.join(data, 'facectl'), 0o777);
    expect((await refusal(() => listUserModels())).line).toContain(`${path.join(data, 'facectl')}: user models folder is writable by group and others`);
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
      expect(r.line).toBe(`${registry}: entry "toy": thresholds.login.value must be a number from -1 to 1 (got ${shown})`);
    }
  });

  it('the CLI: `models list` on a 0777 folder is one line, exit 13', () => {
    const dir = path.join(mkdtempSync(path.join(tmp, 'cli-')), 'user-models');
    mkdirSync(dir);
    chmodSync(dir, 0o777);
    const r = runCli(['models', 'list'], { FACECTL_USER_MODELS_DIR: dir });
    expect(r.code).toBe(ExitCode.MODEL_ERROR);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain(`facectl: ${dir}: user models folder is writable by group and others (mode 0777)`);
  });
});
