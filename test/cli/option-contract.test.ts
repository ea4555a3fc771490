/**
 * The option contract every command keeps (README "Commands and exit codes"): an option given is acted on or
 * refused with exit 2 and one line, never silently ignored. An empty value (`--sheet "$UNSET"`) is not "left
 * out"; --threads and --device are checked for every command, and refused where no model runs; eval's options
 * that would do nothing in the run asked for are refused. Nothing here loads a model.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ExitCode } from '../../src/errors.js';
import { GalleryStore } from '../../src/store/index.js';
import { MODEL, newFace, unitVectors } from '../gallery/contract.js';
import { runCli } from '../helpers/cli.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'facectl-option-contract-'));

/** A store holding one face (a toy model). */
async function oneFaceStore(): Promise<string> {
  const dir = path.join(mkdtempSync(path.join(tmp, 'store-')), 'store');
  await GalleryStore.mutate(dir, (d) => void d.addFaces(MODEL, [newFace('alice', unitVectors(1)[0]!)]));
  return dir;
}

/** Runs each case and expects exit 2 with exactly one stderr line matching `line` (soft: every case failing is listed). */
function expectUsage(cases: [string[], RegExp][]): void {
  for (const [argv, line] of cases) {
    const r = runCli(argv);
    expect.soft(r.code, `${argv.join(' ')}: ${r.stderr}`).toBe(ExitCode.USAGE);
    expect.soft(r.stderr.split('\n').filter(Boolean), argv.join(' ')).toHaveLength(1);
    expect.soft(r.stderr, argv.join(' ')).toMatch(line);
  }
}

describe('empty option values', () => {
  it('are refused with exit 2 naming the option, before anything is written or run', async () => {
    const store = await oneFaceStore();
    const before = readdirSync(store).sort();
    const photo = path.join(tmp, 'any.jpg');
    const empty = (option: string) => new RegExp(`^facectl: ${option} is empty: give a value or leave the option out\n$`);
    expectUsage([
      [['login', photo, '--store', store, '--sheet', ''], empty('--sheet')],
      [['detect', photo, '--draw', ''], empty('--draw')],
      [['cluster', tmp, '--link-to', ''], empty('--link-to')],
      [['index', 'rebuild', '--store', store, '--photos-root', ''], empty('--photos-root')],
      // Was: the demo ran on the bundled samples.
      [['demo', '--photos', ''], empty('--photos')],
      // Was: Number('') is 0, automatic threads.
      [['detect', photo, '--threads', ''], empty('--threads')],
      [['eval', '--dataset', tmp, '--reports', ''], empty('--reports')],
      [['verify', photo, photo, '--model', ''], empty('--model')],
      // --store keeps its own words.
      [['info', '--store', ''], /^facectl: the store location is empty: give a folder or a postgres:\/\/ URL\n$/],
    ]);
    expect(readdirSync(store).sort()).toEqual(before);
  });

  it('empty path arguments are refused too (they were "no such file" naming nothing, exit 14)', async () => {
    const store = await oneFaceStore();
    const before = readdirSync(store).sort();
    const photo = path.join(tmp, 'any.jpg');
    const empty = (argument: string, give = 'a path') => new RegExp(`^facectl: <${argument}> is empty: give ${give}\n$`);
    expectUsage([
      [['login', '', '--store', store], empty('image')],
      [['verify', photo, ''], empty('image2')],
      [['detect', photo, ''], empty('images')],
      [['embed', ''], empty('images')],
      [['enroll', 'bob', photo, '', '--store', store], empty('images')],
      [['cluster', ''], empty('paths')],
      [['models', 'add', '', '--id', 'x'], empty('file')],
      [['store', 'copy', store, ''], empty('to', 'a folder or a postgres:// URL')],
    ]);
    expect(readdirSync(store).sort()).toEqual(before);
  });
});

describe('--threads and --device', () => {
  it('are checked for every command, also those that run no model', async () => {
    const store = await oneFaceStore();
    const cases: [string[], RegExp][] = [];
    for (const bad of ['abc', '-1', '1e9', '1.5'])
      cases.push(
        [['list', '--store', store, '--threads', bad], new RegExp(`^facectl: --threads must be an integer in \\[0, 256\\], got "${bad.replace('.', '\\.')}"\n$`)],
        [['models', 'list', '--threads', bad], /^facectl: --threads must be an integer in \[0, 256\]/],
      );
    expectUsage(cases);
  });

  it('are refused where no model runs (they did nothing, exit 0)', async () => {
    const store = await oneFaceStore();
    const copy = path.join(tmp, 'copy-never-made');
    const idle = (options: string, command: string) => new RegExp(`^facectl: ${options} (does|do) nothing for facectl ${command}: it runs no model\n$`);
    expectUsage([
      [['list', '--store', store, '--threads', '2'], idle('--threads', 'list')],
      [['info', '--store', store, '--device', 'cuda'], idle('--device', 'info')],
      [['remove', 'alice', '--store', store, '--threads', '1', '--device', 'cpu'], idle('--threads, --device', 'remove')],
      [['store', 'copy', store, copy, '--device', 'cuda'], idle('--device', 'store copy')],
      [['models', 'list', '--device', 'cuda'], idle('--device', 'models list')],
      [['models', 'prepare', 'mobilefacenet', '--threads', '2'], idle('--threads', 'models prepare')],
      [['models', 'add', path.join(tmp, 'none.onnx'), '--device', 'cuda'], idle('--device', 'models add')],
      [['models', 'remove', 'nosuch', '--threads', '4'], idle('--threads', 'models remove')],
      [['models', 'prune', '--dry-run', '--device', 'cpu'], idle('--device', 'models prune')],
      [['index', 'rebuild', '--store', store, '--threads', '2'], /^facectl: --threads does nothing without --reembed\n$/],
      [['index', 'rebuild', '--store', store, '--device', 'cuda'], /^facectl: --device does nothing without --reembed\n$/],
    ]);
    expect((await GalleryStore.open(store)).identities().map((i) => i.id)).toEqual(['alice']);
    expect(existsSync(copy)).toBe(false);
  });

  it('are not offered in the --help of a command that refuses them, and are where a model runs', () => {
    for (const argv of [['list'], ['info'], ['store', 'copy'], ['models', 'list']]) expect(runCli([...argv, '--help']).stdout, argv.join(' ')).not.toMatch(/--threads|--device/);
    for (const argv of [['login'], ['eval']]) expect(runCli([...argv, '--help']).stdout, argv.join(' ')).toMatch(/--threads <n>[\s\S]*--device <device>/);
  });

  it('still work where a model runs, and a command that runs none works without them', async () => {
    const store = await oneFaceStore();
    const r = runCli(['list', '--store', store, '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).total).toBe(1);
  });
});

describe('eval options that do nothing in the run asked for', () => {
  it('--store without --calibrate is refused (only --calibrate writes to a store)', async () => {
    const store = await oneFaceStore();
    expectUsage([[['eval', '--dataset', tmp, '--store', store], /^facectl: --store does nothing without --calibrate/]]);
  });

  it('--calibrate refuses what it could not fit from, before any photo is embedded', async () => {
    const store = await oneFaceStore();
    expectUsage([
      [['eval', '--dataset', tmp, '--calibrate', '--store', store, '--identification', 'none'], /^facectl: a 1:N \(login\) threshold needs identification \(not --identification none\)/],
      [['eval', '--dataset', tmp, '--calibrate', '--store', store, '--no-verification', '--target-fpr', '1e-3'], /^facectl: --target-fpr fits a 1:1 threshold on verification pairs: not with --no-verification\n$/],
    ]);
  });

  it('a reports folder that cannot be made leaves none of the folders eval made on the way (exit 11)', () => {
    const root = path.join(tmp, 'reports-made');
    const dataset = path.join(tmp, 'tiny-dataset');
    for (const who of ['p1', 'p2']) {
      mkdirSync(path.join(dataset, who), { recursive: true });
      for (const n of ['0001', '0002']) writeFileSync(path.join(dataset, who, `${who}_${n}.jpg`), 'not read: planning fails first');
    }
    const r = runCli(['eval', '--dataset', dataset, '--reports', path.join(root, 'r19', 'a'.repeat(300))]);
    expect(r.code, r.stderr).toBe(ExitCode.STORE_ERROR);
    expect(existsSync(root)).toBe(false);
  });

  it('--identification none refuses the identification options', () => {
    expectUsage([
      [['eval', '--dataset', tmp, '--identification', 'none', '--gallery-size', '2'], /^facectl: --gallery-size does nothing with --identification none\n$/],
      [['eval', '--dataset', tmp, '--identification', 'none', '--open-set-fraction', '0.2'], /^facectl: --open-set-fraction does nothing with --identification none\n$/],
      [['eval', '--dataset', tmp, '--identification', 'none', '--threshold', '0.5', '--gallery-size', '1'], /^facectl: --gallery-size, --threshold do nothing with --identification none\n$/],
    ]);
  });
});
