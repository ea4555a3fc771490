/**
 * Small mismatches between what a command says and what happened (README "Commands and exit codes": one line
 * on stderr, the documented exit code): a folder on standard input, a file given as a folder, binary bytes
 * quoted from a pairs file, --draw with several photos, eval's help and its calibration refusal, a report left
 * half-written, a command group run without its command, `models prepare` of one unknown or empty id.
 */
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { Command, CommanderError } from 'commander';
import { checkCalibrationTarget } from '../../src/app/calibrate.js';
import { requireSubcommand } from '../../src/cli/common.js';
import { ExitCode, FacectlError } from '../../src/errors.js';
import { parseLfwPairs } from '../../src/eval/pairs.js';
import { writeReport, type ReportInput } from '../../src/eval/report.js';
import type { Gallery } from '../../src/gallery/types.js';
import type { ResolvedEmbedder } from '../../src/models/resolve.js';
import { CLI_ENTRY, runCli } from '../helpers/cli.js';
import { repoRoot } from '../helpers/shared.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'facectl-contract-messages-'));
const photo = async (name: string): Promise<string> => {
  const file = path.join(tmp, name);
  await sharp({ create: { width: 64, height: 48, channels: 3, background: '#808080' } }).jpeg().toFile(file);
  return file;
};
const lines = (stderr: string) => stderr.split('\n').filter(Boolean);

describe('what a command says', () => {
  it('a folder on standard input is a folder (exit 14), not an empty image', () => {
    const fd = openSync(tmp, 'r');
    try {
      const r = spawnSync(process.execPath, ['--import', 'tsx', CLI_ENTRY, 'detect', '-', '-q'], { cwd: repoRoot, stdio: [fd, 'pipe', 'pipe'], encoding: 'utf8', timeout: 120_000 });
      expect(r.status, r.stderr).toBe(ExitCode.NOT_FOUND);
      expect(lines(r.stderr)).toEqual(['facectl: (standard input): is a directory, not an image']);
    } finally {
      closeSync(fd);
    }
  });

  it('demo --photos with a file says it is a file, not a folder (exit 2)', async () => {
    const file = await photo('one.jpg');
    const r = runCli(['demo', '--photos', file]);
    expect(r.code, r.stderr).toBe(ExitCode.USAGE);
    expect(lines(r.stderr)).toEqual([`facectl: ${file}: is a file, not a folder: --photos takes a folder of photos`]);
  });

  it('a pairs file that is a photo is quoted as a short printable excerpt, control characters escaped', async () => {
    const text = readFileSync(await photo('pairs.jpg'), 'utf8');
    expect(text).toContain('\u0000');
    let message = '';
    try {
      parseLfwPairs(text, 'pairs.jpg');
    } catch (err) {
      message = (err as FacectlError).oneLine();
    }
    expect(message).toMatch(/^pairs\.jpg: line \d+: /);
    expect(message).not.toMatch(/[\u0000-\u001f\u007f-\u009f\ufffd]/);
    expect(message.length).toBeLessThan(400);
    // Ordinary lines are quoted as they are.
    expect(() => parseLfwPairs('Alice x 2\n', 'p.txt')).toThrow('line 1: image number "x" is not a positive integer in "Alice x 2"');
  });

  it('detect with several photos refuses a --draw named like a picture (it made a folder out.png)', async () => {
    const [a, b] = [await photo('a.jpg'), await photo('b.jpg')];
    const out = path.join(tmp, 'out.png');
    const r = runCli(['detect', a, b, '--draw', out]);
    expect(r.code, r.stderr).toBe(ExitCode.USAGE);
    expect(lines(r.stderr)).toEqual([`facectl: ${out}: --draw with several photos takes a folder (one <name>.faces.png each), not a .png file name`]);
    expect(existsSync(out)).toBe(false);
  });

  it('eval --help shows --store <dir|url>', () => {
    const r = runCli(['eval', '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/--store <dir\|url>/);
  });

  it('eval --calibrate on a store of another model does not claim a threshold was calibrated', async () => {
    const gallery = { info: async () => ({ model: { id: 'toy-a', hash: 'fp:aaa', dimension: 64 }, faces: 1 }) } as unknown as Gallery;
    const model = { spec: { id: 'mobilefacenet', dim: 192 }, fingerprint: 'bbb', detector: 'blazeface' } as unknown as ResolvedEmbedder;
    const err = await checkCalibrationTarget(gallery, model).then(() => null, (e: unknown) => e as FacectlError);
    expect(err?.code).toBe(ExitCode.MODEL_MISMATCH);
    expect(err?.message).not.toMatch(/was calibrated/);
    expect(err?.message).toMatch(/^store was built with model toy-a and detector blazeface; .*nothing calibrated.*: calibrate with --model toy-a --detector blazeface/);
  });

  it('a report that cannot be written completely leaves no folder behind (exit 11)', () => {
    const root = path.join(mkdtempSync(path.join(tmp, 'reports-')), 'reports', 'nested');
    // Two charts of one name: the second write fails (EEXIST) after the folder and the first chart were written.
    const chart = { title: 'roc', png: Buffer.from('png') };
    const input = { dataset: { name: 'd' }, model: { id: 'm' }, charts: [{ ...chart, file: 'roc.png' }, { ...chart, file: 'again/roc.png' }] } as unknown as ReportInput;
    let err: unknown;
    try {
      writeReport(root, input);
    } catch (e) {
      err = e;
    }
    expect((err as FacectlError).code).toBe(ExitCode.STORE_ERROR);
    expect(readdirSync(path.dirname(path.dirname(root)))).toEqual([]);
    // Folders that were there before stay.
    mkdirSync(root, { recursive: true });
    writeFileSync(path.join(root, 'keep.txt'), 'x');
    expect(() => writeReport(root, input)).toThrow(FacectlError);
    expect(readdirSync(root)).toEqual(['keep.txt']);
  });

  it('a command group run without its command says so in one line (exit 2)', () => {
    const cases: [string[], string][] = [
      [['index'], "facectl: 'index' needs a command: rebuild (run with --help for usage)"],
      [['models'], "facectl: 'models' needs a command: list, prepare, add, prune, remove (run with --help for usage)"],
      [['store'], "facectl: 'store' needs a command: copy (run with --help for usage)"],
      [['index', 'bogus'], "facectl: unknown command 'index bogus' (commands: rebuild) (run with --help for usage)"],
      [['models', 'help', 'nosuch'], "facectl: unknown command 'models nosuch' (commands: list, prepare, add, prune, remove) (run with --help for usage)"],
      [[], 'facectl: missing command (facectl demo to try it on sample photos; facectl --help lists them all) (run with --help for usage)'],
      [['help', 'nosuch'], "facectl: unknown command 'nosuch' (run with --help for usage)"],
    ];
    for (const [argv, line] of cases) {
      const r = runCli(argv);
      expect(r.code, argv.join(' ')).toBe(ExitCode.USAGE);
      expect(lines(r.stderr), argv.join(' ')).toEqual([line]);
    }
    const help = runCli(['index', 'help', 'rebuild']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^Usage: facectl index rebuild/);
  });

  it('requireSubcommand serves the program itself too (`facectl`, `facectl help nosuch`)', () => {
    const run = (argv: string[]) => {
      const errors: string[] = [];
      const program = new Command('facectl').exitOverride().configureOutput({ writeErr: (t) => void errors.push(t), writeOut: () => undefined });
      program.command('login').action(() => undefined);
      program.command('list').action(() => undefined);
      requireSubcommand(program);
      let code = 0;
      try {
        program.parse(argv, { from: 'user' });
      } catch (err) {
        code = (err as CommanderError).exitCode;
      }
      return { code, errors };
    };
    expect(run([])).toEqual({ code: 2, errors: ['missing command (facectl demo to try it on sample photos; facectl --help lists them all)\n'] });
    expect(run(['help', 'nosuch'])).toEqual({ code: 2, errors: ["unknown command 'nosuch'\n"] });
    expect(run(['bogus'])).toEqual({ code: 2, errors: ["unknown command 'bogus'\n"] });
    expect(run(['help', 'login']).code).toBe(0);
  });

  it('models prepare of one unknown id is one line (exit 13); an empty id is a usage error', () => {
    const one = runCli(['models', 'prepare', 'nosuch']);
    expect(one.code).toBe(ExitCode.MODEL_ERROR);
    expect(lines(one.stderr)).toHaveLength(1);
    expect(one.stderr).toMatch(/^facectl: unknown built-in model "nosuch" \(known: /);
    const empty = runCli(['models', 'prepare', '']);
    expect(empty.code).toBe(ExitCode.USAGE);
    expect(lines(empty.stderr)).toEqual(['facectl: a model id is empty: give built-in model ids, or none for all of them']);
  });
});
