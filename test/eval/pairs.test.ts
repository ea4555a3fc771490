import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ExitCode } from '../../src/errors.js';
import { findMissingPairImages, findPairsFile, imagesOfPairs, lfwImagePath, parseLfwPairs, readPairsFile } from '../../src/eval/pairs.js';
import { dataset, hasDatasets } from '../helpers/shared.js';
import { expectFacectlError, withShared } from './eval-helpers.js';

const tmp = mkdtempSync(path.join(tmpdir(), 'facectl-pairs-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('parseLfwPairs', () => {
  it('parses a View 2 style file: header, then per fold N same + N different', () => {
    const text = ['2\t1', 'Ann\t1\t2', 'Bob\t1\tCid\t3', 'Dee\t2\t10', 'Eve\t1\tFay\t1', ''].join('\n');
    const p = parseLfwPairs(text);
    expect(p.foldCount).toBe(2);
    expect(p.pairs).toEqual([
      { a: 'Ann/Ann_0001.jpg', b: 'Ann/Ann_0002.jpg', same: true, fold: 0 },
      { a: 'Bob/Bob_0001.jpg', b: 'Cid/Cid_0003.jpg', same: false, fold: 0 },
      { a: 'Dee/Dee_0002.jpg', b: 'Dee/Dee_0010.jpg', same: true, fold: 1 },
      { a: 'Eve/Eve_0001.jpg', b: 'Fay/Fay_0001.jpg', same: false, fold: 1 },
    ]);
    expect(p.description).toMatch(/2 fold\(s\), 2 genuine \+ 2 impostor/);
  });

  it('header-less files (and CRLF, spaces, blank lines) are one fold', () => {
    const p = parseLfwPairs('Ann 1 2\r\n\r\nBob  1 Cid 3\r\n');
    expect(p.foldCount).toBe(1);
    expect(p.pairs.map((x) => x.fold)).toEqual([0, 0]);
    expect(p.description).toMatch(/no count line/);
  });

  it('a single-number header (official View 1) means one fold of N + N', () => {
    const p = parseLfwPairs('1\nAnn 1 2\nBob 1 Cid 3\n');
    expect(p.foldCount).toBe(1);
    expect(p.pairs).toHaveLength(2);
  });

  it('reports malformed lines with their line number', () => {
    expectFacectlError(() => parseLfwPairs('Ann 1 2\nBob 1\n', 'p.txt'), ExitCode.USAGE, /^p\.txt: line 2: expected "Name i j"/);
    expectFacectlError(() => parseLfwPairs('\nAnn 1 x\n', 'p.txt'), ExitCode.USAGE, /line 2: image number "x"/);
    expectFacectlError(() => parseLfwPairs('Ann 0 2\n', 'p.txt'), ExitCode.USAGE, /line 1: image number "0"/);
    expectFacectlError(() => parseLfwPairs('Ann 1 Ann 2\n', 'p.txt'), ExitCode.USAGE, /line 1: a different-person line names "Ann" twice/);
    expectFacectlError(() => parseLfwPairs('2 1\nAnn 1 2\nBob 1 Cid 3\n', 'p.txt'), ExitCode.USAGE, /promises 2 fold\(s\).*= 4 pairs, but the file has 2/);
    expectFacectlError(() => parseLfwPairs('\n\n', 'p.txt'), ExitCode.USAGE, /no pairs found/);
  });

  it('with a count line, each fold must hold N same then N different lines: the total alone is not enough', () => {
    const same = ['Ann 1 2', 'Bob 1 2', 'Cid 1 2', 'Dee 1 2'];
    const diff = ['Ann 1 Bob 1', 'Cid 1 Dee 1', 'Ann 2 Cid 2', 'Bob 2 Dee 2'];
    // "2 2" then 4 same, 4 different: fold 1 all genuine, fold 2 all impostors ("100 %" accuracy).
    expectFacectlError(
      () => parseLfwPairs(['2 2', ...same, ...diff].join('\n'), 'p.txt'),
      ExitCode.USAGE,
      /^p\.txt: line 4: fold 1 must hold 2 same-person lines then 2 different-person lines .* this same-person line is where a different-person one belongs$/,
    );
    // Fold 2 out of order (different before same).
    expectFacectlError(
      () => parseLfwPairs(['2 2', same[0], same[1], diff[0], diff[1], diff[2], same[2], same[3], diff[3]].join('\n'), 'p.txt'),
      ExitCode.USAGE,
      /^p\.txt: line 6: fold 2 must hold/,
    );
    expect(parseLfwPairs(['2 2', same[0], same[1], diff[0], diff[1], same[2], same[3], diff[2], diff[3]].join('\n')).pairs.map((p) => p.fold)).toEqual([0, 0, 0, 0, 1, 1, 1, 1]);
    // Without a count line there is one fold, in any order.
    expect(parseLfwPairs([...diff, ...same].join('\n')).foldCount).toBe(1);
  });

  it('lists the distinct images in first-use order', () => {
    const p = parseLfwPairs('Ann 1 2\nAnn 2 Bob 1\n');
    expect(imagesOfPairs(p.pairs)).toEqual(['Ann/Ann_0001.jpg', 'Ann/Ann_0002.jpg', 'Bob/Bob_0001.jpg']);
    expect(lfwImagePath('X', 123)).toBe('X/X_0123.jpg');
  });
});

describe('pairs files on disk', () => {
  it('findPairsFile: explicit file, else <root>/pairs.txt, else null', () => {
    expect(findPairsFile(tmp)).toBeNull();
    writeFileSync(path.join(tmp, 'pairs.txt'), 'Ann 1 2\nBob 1 Cid 1\n');
    expect(findPairsFile(tmp)).toBe(path.join(tmp, 'pairs.txt'));
    expectFacectlError(() => findPairsFile(tmp, path.join(tmp, 'other.txt')), ExitCode.NOT_FOUND, /other\.txt: pairs file not found/);
    expectFacectlError(() => readPairsFile(path.join(tmp, 'gone.txt')), ExitCode.NOT_FOUND, /pairs file not found/);
    // A folder is a usage error (as --dataset given a file); a FIFO is refused before a read that would block.
    expectFacectlError(() => readPairsFile(tmp), ExitCode.USAGE, /--pairs names a folder, not a pairs file/);
    const fifo = path.join(tmp, 'pairs.fifo');
    execFileSync('mkfifo', [fifo]);
    expectFacectlError(() => readPairsFile(fifo), ExitCode.USAGE, /--pairs names a FIFO \(named pipe\), not a pairs file/);
    const p = readPairsFile(path.join(tmp, 'pairs.txt'));
    expect(findMissingPairImages(p, tmp)).toEqual(['Ann/Ann_0001.jpg', 'Ann/Ann_0002.jpg', 'Bob/Bob_0001.jpg', 'Cid/Cid_0001.jpg']);
  });
});

describe.skipIf(!hasDatasets)(withShared('the shared LFW protocol files'), () => {
  it('pairs.txt: 10 folds of 300 same + 300 different, every image present', () => {
    const p = readPairsFile(dataset('lfw', 'pairs.txt'));
    expect(p.foldCount).toBe(10);
    expect(p.pairs).toHaveLength(6000);
    for (let f = 0; f < 10; f++) {
      const fold = p.pairs.filter((x) => x.fold === f);
      expect(fold.slice(0, 300).every((x) => x.same)).toBe(true);
      expect(fold.slice(300).every((x) => !x.same)).toBe(true);
      expect(fold).toHaveLength(600);
    }
    expect(p.pairs[0]).toEqual({ a: 'Abel_Pacheco/Abel_Pacheco_0001.jpg', b: 'Abel_Pacheco/Abel_Pacheco_0004.jpg', same: true, fold: 0 });
    expect(findMissingPairImages(p, dataset('lfw'))).toEqual([]);
  });

  it('header-less View 1 copies parse as one fold', () => {
    const dev = readPairsFile(dataset('lfw', 'pairsDevTest.txt'));
    expect(dev.foldCount).toBe(1);
    expect(dev.pairs.filter((x) => x.same)).toHaveLength(500);
    expect(dev.pairs.filter((x) => !x.same)).toHaveLength(500);
    expect(readPairsFile(dataset('lfw', 'pairsDevTrain.txt')).pairs).toHaveLength(2200);
  });
});

describe('a name in a pairs file is one folder of the dataset', () => {
  it('"..", "." or a name with a slash or backslash is refused (exit 2): it would read photos outside the dataset', () => {
    for (const line of ['../outside\t1\t2', 'a/b\t1\t2', 'Alice\t1\t..\t2', 'a\\b\t1\t2', '.\t1\t2']) {
      expectFacectlError(() => parseLfwPairs(`${line}\n`, 'p.txt'), ExitCode.USAGE, /^p\.txt: line 1: ".*" is not a person's folder name/);
    }
    expect(parseLfwPairs('Alice_B.-x\t1\t2\n', 'p.txt').pairs).toHaveLength(1);
  });
});
