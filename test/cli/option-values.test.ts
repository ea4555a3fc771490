/**
 * Option values are checked before a command does anything: `--index` takes only the known kinds (the kind
 * names the index file, so any other string wrote a file beside or outside the store), and counts, sizes
 * and seeds only integers (a fraction was an internal error, or silently accepted).
 */
import { existsSync, mkdtempSync, readdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { decimalNumber, reportError } from '../../src/cli/common.js';
import { ExitCode, FacectlError } from '../../src/errors.js';
import { GalleryStore } from '../../src/store/index.js';
import { MODEL, newFace, unitVectors } from '../gallery/contract.js';
import { runCli } from '../helpers/cli.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'facectl-option-values-'));

/** A store holding one face (a toy model: nothing here loads a model). */
async function oneFaceStore(): Promise<string> {
  const dir = path.join(mkdtempSync(path.join(tmp, 'store-')), 'store');
  await GalleryStore.mutate(dir, (d) => void d.addFaces(MODEL, [newFace('alice', unitVectors(1)[0]!)]));
  return dir;
}

describe('--index', () => {
  it('index rebuild refuses a kind that is not auto, flat or hnsw, and writes no file for it', async () => {
    const store = await oneFaceStore();
    const before = readdirSync(store).sort();
    for (const kind of ['bogus', '/../../esc/x']) {
      const r = runCli(['index', 'rebuild', '--store', store, '--index', kind]);
      expect(r.code, r.stderr).toBe(ExitCode.USAGE);
      expect(r.stderr).toMatch(/--index.*auto, flat, hnsw/);
    }
    expect(readdirSync(store).sort()).toEqual(before);
    expect(existsSync(path.join(path.dirname(path.dirname(store)), 'esc'))).toBe(false);
  });

  it('login and serve refuse it too, before opening the store', async () => {
    const store = await oneFaceStore();
    for (const argv of [['login', path.join(tmp, 'any.jpg')], ['serve']]) {
      const r = runCli([...argv, '--store', store, '--index', 'bogus']);
      expect(r.code, `${argv[0]}: ${r.stderr}`).toBe(ExitCode.USAGE);
      expect(r.stderr).toMatch(/--index.*bogus/);
    }
  });
});

describe('whole-number options', () => {
  it('refuse a fraction (or nothing) with exit 2 naming the option, before any store is made', () => {
    const store = path.join(tmp, 'never-made');
    const photo = path.join(tmp, 'any.jpg');
    const cases: [string, string[]][] = [
      ['--top', ['login', photo, '--store', store, '--top', '1.5']],
      ['--seed', ['eval', '--dataset', tmp, '--seed', '1.5']],
      ['--seed', ['eval', '--dataset', tmp, '--seed', ' ']],
      ['--max-identities', ['eval', '--dataset', tmp, '--max-identities', '2.5']],
      ['--gallery-size', ['eval', '--dataset', tmp, '--gallery-size', '1.5']],
      ['--batch', ['enroll', '--dataset', tmp, '--store', store, '--batch', '1.5']],
      ['--min-size', ['cluster', photo, '--min-size', '1.5']],
    ];
    for (const [option, argv] of cases) {
      const r = runCli(argv);
      expect(r.code, `${argv.join(' ')}: ${r.stderr}`).toBe(ExitCode.USAGE);
      expect(r.stderr, argv.join(' ')).toMatch(new RegExp(`^facectl: ${option} must be an integer in \\[\\S+, \\S+\\], got "${argv.at(-1)}"\n$`));
    }
    expect(existsSync(store)).toBe(false);
  });
});

describe('number options', () => {
  it('take decimal numbers only: 0x1, 0b1, 0o1, Infinity or spaces around are refused with exit 2, before any store is made', () => {
    const store = path.join(tmp, 'never-made');
    const photo = path.join(tmp, 'any.jpg');
    const cases: [string, string[]][] = [
      ['--threshold', ['enroll', 'alice', photo, '--store', store, '--threshold', '0x1']],
      ['--threshold', ['cluster', photo, '--threshold', ' 0.5']],
      ['--threshold', ['verify', photo, photo, '--threshold', '0o0']],
      ['--top', ['login', photo, '--store', store, '--top', '0x2']],
      ['--batch', ['enroll', '--dataset', tmp, '--store', store, '--batch', '0b11']],
      ['--min-score', ['detect', photo, '--min-score', '0x0']],
      ['--target-fpir', ['eval', '--dataset', tmp, '--calibrate', '--target-fpir', '0x0.1']],
    ];
    for (const [option, argv] of cases) {
      const r = runCli(argv);
      expect(r.code, `${argv.join(' ')}: ${r.stderr}`).toBe(ExitCode.USAGE);
      expect(r.stderr, argv.join(' ')).toMatch(new RegExp(`^facectl: ${option} must be an? (number|integer) in \\[\\S+, \\S+\\], got "${argv.at(-1)!.replace(/\./g, '\\.')}"\n$`));
    }
    const threads = runCli(['detect', photo, '--threads', '0x2']);
    expect(threads.code, threads.stderr).toBe(ExitCode.USAGE);
    expect(threads.stderr).toBe('facectl: --threads must be an integer in [0, 256], got "0x2"\n');
    expect(existsSync(store)).toBe(false);
  });

  it('decimalNumber: what a person types as a number', () => {
    for (const [raw, v] of [['1', 1], ['-1', -1], ['+0.5', 0.5], ['.25', 0.25], ['1.', 1], ['1e-2', 0.01], ['2E3', 2000]] as const) expect(decimalNumber(raw), raw).toBe(v);
    for (const raw of ['', ' ', ' 1', '1 ', '0x1', '0b1', '0o1', 'Infinity', '-Infinity', 'NaN', '1_000', '1e', '.', '--1', '1,5']) expect(decimalNumber(raw), raw).toBeNaN();
  });
});

describe('options that would do nothing', () => {
  it('index rebuild refuses --model, --detector and --drop-missing without --reembed (the store stayed on its model, exit 0)', async () => {
    const store = await oneFaceStore();
    const before = readdirSync(store).sort();
    for (const extra of [['--model', 'mobilefacenet'], ['--detector', 'mtcnn'], ['--drop-missing'], ['--model', 'no-such', '--detector', 'none']]) {
      const r = runCli(['index', 'rebuild', '--store', store, ...extra]);
      expect(r.code, `${extra.join(' ')}: ${r.stderr}`).toBe(ExitCode.USAGE);
      expect(r.stderr.trim()).toMatch(/^facectl: --[a-z-]+(, --[a-z-]+)* (do|does) nothing without --reembed$/);
    }
    expect(readdirSync(store).sort()).toEqual(before);
  });

  it('enroll --dataset refuses the options of a single enrollment, before creating a store', () => {
    const store = path.join(tmp, 'never-made');
    for (const extra of [['--name', 'Foo'], ['--threshold', 'abc'], ['--largest'], ['--force'], ['--skip-bad']]) {
      const r = runCli(['enroll', '--dataset', tmp, '--store', store, ...extra]);
      expect(r.code, `${extra.join(' ')}: ${r.stderr}`).toBe(ExitCode.USAGE);
      expect(r.stderr.trim()).toMatch(new RegExp(`^facectl: ${extra[0]} does nothing with --dataset \\(`));
    }
    expect(existsSync(store)).toBe(false);
  });
});

describe('parse errors', () => {
  it('are one line in facectl’s form, as every other error, with exit 2', () => {
    const cases: [string[], string][] = [
      [['login', '--bogus'], "facectl: unknown option '--bogus' (run with --help for usage)"],
      [['login'], "facectl: missing required argument 'image' (run with --help for usage)"],
      [['bogus'], "facectl: unknown command 'bogus' (run with --help for usage)"],
      [['index', 'rebuild', '--index', 'x'], "facectl: option '--index <kind>' argument 'x' is invalid. Allowed choices are auto, flat, hnsw (run with --help for usage)"],
      // A mistyped option quoting a database URL does not print its password.
      [['info', '--stroe=postgres://u:S3cretPW@h/db'], "facectl: unknown option '--stroe=postgres://***@h/db' (run with --help for usage)"],
      // commander's suggestion came on its own line, shown as a literal \n.
      [['list', '--stor', 'x'], "facectl: unknown option '--stor' (did you mean --store?) (run with --help for usage)"],
    ];
    for (const [argv, line] of cases) {
      const r = runCli(argv);
      expect(r.code, argv.join(' ')).toBe(ExitCode.USAGE);
      expect(r.stderr.split('\n').filter(Boolean)).toEqual([line]);
    }
  });

  it('FACECTL_DEBUG=1 prints the stack of an internal error also when it was raised on purpose (exit 1)', () => {
    const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    const was = process.env.FACECTL_DEBUG;
    try {
      process.env.FACECTL_DEBUG = '1';
      expect(reportError(new FacectlError(ExitCode.INTERNAL, 'a state that cannot happen'))).toBe(ExitCode.INTERNAL);
      expect(stderr.mock.calls.map((c) => String(c[0])).join('')).toMatch(/^facectl: a state that cannot happen\nFacectlError: a state that cannot happen\n\s+at /);
      stderr.mockClear();
      reportError(new FacectlError(ExitCode.NO_FACE, 'no face found')); // not a bug: one line, no stack
      expect(stderr.mock.calls.map((c) => String(c[0]))).toEqual(['facectl: no face found\n']);
    } finally {
      if (was === undefined) delete process.env.FACECTL_DEBUG;
      else process.env.FACECTL_DEBUG = was;
      stderr.mockRestore();
    }
  });
});
