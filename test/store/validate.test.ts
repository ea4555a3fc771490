/** Ids, display names, model descriptions, and where the default store lives. */
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ExitCode, FacectlError } from '../../src/errors.js';
import { resolveGalleryLocation } from '../../src/gallery/open.js';
import { defaultStoreDir } from '../../src/store/names.js';
import { isValidId, nameProblem, validateDisplayName, validateId, validateModel } from '../../src/store/validate.js';

const ID_TABLE: [string, boolean][] = [
  ['alice', true],
  ['Alice_Smith-2', true],
  ['a', true],
  ['0', true],
  ['_hidden', true],
  ['a.b.c', true],
  ['a..b', true], // no path separator can follow, so ".." inside a name is harmless
  ['x'.repeat(64), true],
  ['x'.repeat(65), false],
  ['', false],
  ['.', false],
  ['..', false],
  ['.hidden', false],
  ['-rf', false],
  ['--help', false],
  ['a/b', false],
  ['../etc/passwd', false],
  ['a\\b', false],
  ['a b', false],
  ['tab\t', false],
  ['new\nline', false],
  ['nul\0', false],
  ['zoë', false], // ASCII only: Unicode belongs in the display name
  ['ａｌｉｃｅ', false], // fullwidth look-alikes
  ['a:b', false],
  ['a*', false],
  ['~user', false],
];

describe('identity ids', () => {
  it.each(ID_TABLE)('%j → valid: %s', (id, valid) => {
    expect(isValidId(id)).toBe(valid);
    if (valid) {
      expect(validateId(id)).toBe(id);
    } else {
      let thrown: unknown;
      try {
        validateId(id);
      } catch (err) {
        thrown = err;
      }
      expect(thrown).toBeInstanceOf(FacectlError);
      expect((thrown as FacectlError).code).toBe(ExitCode.INVALID_ID);
      expect((thrown as FacectlError).oneLine()).not.toMatch(/[\n\t\0]/);
    }
  });
});

describe('display names', () => {
  it.each(['Zoë Åström', '李小龙', '👩🏽‍🚀', 'Smith, "Jo"', '=SUM(A1)', 'x'.repeat(200), '🙂'.repeat(200)])('accepts %j', (name) => {
    expect(validateDisplayName(name)).toBe(name);
  });

  it.each([
    ['', /empty/],
    ['   ', /empty/],
    ['line\nbreak', /control character/],
    ['tab\there', /control character/],
    ['esc\u001b[31m', /control character/],
    ['c1\u0085', /control character/],
    ['del\u007f', /control character/],
    ['lone \ud800 surrogate', /lone surrogate/],
    ['x'.repeat(201), /longer than 200/],
  ])('rejects %j', (name, why) => {
    expect(nameProblem(name)).toMatch(why);
    expect(() => validateDisplayName(name)).toThrow(FacectlError);
    try {
      validateDisplayName(name);
    } catch (err) {
      expect((err as FacectlError).code).toBe(ExitCode.USAGE);
      expect((err as FacectlError).oneLine()).not.toMatch(/[\n\t\u001b]/);
    }
  });
});

describe('model descriptions', () => {
  it('accepts a normal model and rejects ones that cannot fit the dump header', () => {
    expect(validateModel({ id: 'dlib', hash: 'sha256:abc', dimension: 128 })).toEqual({ id: 'dlib', hash: 'sha256:abc', dimension: 128 });
    for (const bad of [
      { id: '', hash: 'h', dimension: 128 },
      { id: 'x'.repeat(65), hash: 'h', dimension: 128 },
      { id: 'm', hash: 'h'.repeat(129), dimension: 128 },
      { id: 'm\n', hash: 'h', dimension: 128 },
      { id: 'm', hash: 'h', dimension: 0 },
      { id: 'm', hash: 'h', dimension: 1.5 },
    ]) {
      expect(() => validateModel(bad), JSON.stringify(bad)).toThrow(expect.objectContaining({ code: ExitCode.MODEL_ERROR }));
    }
  });
});

describe('store location', () => {
  it('follows XDG_DATA_HOME, else ~/.local/share', () => {
    expect(defaultStoreDir({ XDG_DATA_HOME: '/xdg' })).toBe(path.join('/xdg', 'facectl', 'store'));
    expect(defaultStoreDir({})).toBe(path.join(os.homedir(), '.local', 'share', 'facectl', 'store'));
    expect(defaultStoreDir({ XDG_DATA_HOME: 'relative/ignored' })).toBe(path.join(os.homedir(), '.local', 'share', 'facectl', 'store'));
  });

  it('prefers --store, then FACECTL_STORE (empty counts as unset, as XDG variables), then the default', () => {
    expect(resolveGalleryLocation('/opt/s', { FACECTL_STORE: '/env/s' })).toBe('/opt/s');
    expect(resolveGalleryLocation(undefined, { FACECTL_STORE: '/env/s' })).toBe('/env/s');
    expect(resolveGalleryLocation(undefined, { XDG_DATA_HOME: '/xdg' })).toBe('/xdg/facectl/store');
    expect(resolveGalleryLocation(undefined, { FACECTL_STORE: '', XDG_DATA_HOME: '/xdg' })).toBe('/xdg/facectl/store');
    expect(resolveGalleryLocation('', { FACECTL_STORE: '/env/s' })).toBe(''); // openGallery refuses it (exit 2)
  });
});
