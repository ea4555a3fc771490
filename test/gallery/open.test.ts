/**
 * Which gallery a store location opens: a mistyped database URL is refused (exit 2, its password masked)
 * instead of becoming a store folder named after it; a folder path, a Windows drive path included, opens.
 */
import { describe, expect, it } from 'vitest';
import { ExitCode } from '../../src/errors.js';
import { redact, redactArgs, redactText } from '../../src/redact-url.js';
import { openGallery } from '../../src/gallery/open.js';
import { expectFacectlError } from '../store/helpers.js';

describe('openGallery: the location', () => {
  it('refuses a URL that is not postgres:// or postgresql://, masking its password', async () => {
    const typos: [string, string][] = [
      ['postgres:/u:pw@h/db', 'postgres:/***@h/db'],
      ['postgresql:/u:pw@h/db', 'postgresql:/***@h/db'],
      ['pg://u:pw@h:5432/db', 'pg://***@h:5432/db'],
      ['POSTGRES:u:pw@h/db', 'POSTGRES:***@h/db'],
      ['postgress://u:pw@h/db', 'postgress://***@h/db'],
      ['file:///var/lib/store', 'file:///var/lib/store'],
    ];
    for (const [location, shown] of typos) {
      const err = await expectFacectlError(() => openGallery(location), ExitCode.USAGE, /looks like a URL but is not postgres:\/\/… or postgresql:\/\/…/);
      expect(err.message).toContain(`store location ${shown} `);
      expect(err.message).not.toContain('pw');
    }
    // Drive letters and names that only hold a colon are folders (nothing is created before a write).
    for (const folder of ['C:\\facectl\\store', 'C:/facectl/store', 'store:2026', './pg://x']) expect((await openGallery(folder)).backend).toBe('files');
  });

  it('redact masks the password of a URL that does not parse as postgres://', () => {
    expect(redact('postgres:/u:pw@h/db')).toBe('postgres:/***@h/db');
    expect(redact('postgres://u:pw@h/db')).toBe('postgres://u:***@h/db');
    expect(redact('/plain/folder')).toBe('/plain/folder');
  });

  it('a password with an unencoded # ? or / (the URL parses with it as a port and the rest after the host) is masked and refused', async () => {
    for (const [location, shown] of [
      ['postgres://admin:4711#Geheim@127.0.0.1:5432/db', 'postgres://***@127.0.0.1:5432/db'],
      ['postgres://admin:4711?Geheim@127.0.0.1:5432/db', 'postgres://***@127.0.0.1:5432/db'],
      ['postgresql://admin:12/Geheim@h/db', 'postgresql://***@h/db'],
    ]) {
      expect(redact(location!)).toBe(shown);
      const err = await expectFacectlError(() => openGallery(location!), ExitCode.USAGE, /has an @ after its host: percent-encode/);
      expect(err.message).not.toContain('Geheim');
    }
  });

  it('redactArgs masks a password in an argument or an --opt=value; redactText in free text', () => {
    expect(redactArgs(['--store', 'postgres://u:pw@h/db', '--store=postgres://u:pw@h/db', '-s=pg://u:pw@h', '/data/a@b', '--seed=1'])).toEqual([
      '--store', 'postgres://u:***@h/db', '--store=postgres://u:***@h/db', '-s=pg://***@h', '/data/a@b', '--seed=1',
    ]);
    expect(redactText("unknown option '--stroe=postgres://u:S3cret@h:5432/db'")).toBe("unknown option '--stroe=postgres://***@h:5432/db'");
    expect(redactText('nothing to hide: /a@b')).toBe('nothing to hide: /a@b');
  });
});
