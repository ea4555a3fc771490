/**
 * The option contract every command keeps (README "Commands and exit codes"): an option given is acted on or
 * refused with exit 2 and one line, never silently ignored. An empty value (`--sheet "$UNSET"`) is not "left
 * out". Nothing here loads a model.
 */
import { mkdtempSync, readdirSync } from 'node:fs';
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
});
