/**
 * `facectl serve`: one JSON answer per request line, in order; the answers are `login --json`'s; a bad
 * request gets its exit code and the service goes on; a photo can come as bytes (imageBase64); enroll
 * through the service checks duplicates as `facectl enroll` does. Another process's enroll or remove is
 * seen by the next login, on a store directory and on PostgreSQL, a password-protected one too (the real
 * wire protocol: PGlite + pgvector, test/helpers/pg-server.ts). Real faces cut from the sample photos
 * `npm ci` installs, so no ../shared is needed.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ExitCode } from '../../src/errors.js';
import { runCli } from '../helpers/cli.js';
import { ServeClient } from '../helpers/serve-client.js';
import { startPgProxy } from '../helpers/pg-proxy.js';
import { uniqueSchema, usePgServer } from '../helpers/pg-server.js';
import { faceCrop, hasSamples, SKIP_NO_SAMPLES } from '../helpers/samples.js';
import { repoRoot } from '../helpers/shared.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'facectl-serve-'));
const env = { FACECTL_CACHE_DIR: path.join(tmp, 'cache') };

/** The same story on any backend: serve, then enroll and remove in other processes, and see it. */
async function story(store: string) {
  const [a, b] = [await faceCrop('a'), await faceCrop('b')];
  const cli = (...argv: string[]) => runCli([...argv, '--store', store], env);
  expect(cli('enroll', 'alice', a, '-q').code).toBe(0);
  const serve = new ServeClient(['--store', store], env);
  const login = (image: string, id?: number) => serve.request({ id, op: 'login', image, top: 2 });

  const first = await login(a, 1);
  expect(first).toMatchObject({ id: 1, ok: true, op: 'login', accepted: true, faces: [{ decision: 'ACCEPT', id: 'alice', enrolledPhotos: [a] }] });
  expect(first.faces[0].score).toBeGreaterThan(0.99); // the enrolled photo itself
  // The answer is what `login --json` prints.
  const oneShot = JSON.parse(cli('login', a, '--top', '2', '--json').stdout);
  expect(first.faces).toEqual(oneShot.faces);
  expect(first.threshold).toEqual(oneShot.threshold);
  // The same photo as bytes.
  const bytes = await serve.request({ id: 'b64', op: 'login', imageBase64: readFileSync(a).toString('base64') });
  expect(bytes.faces[0].score).toBe(first.faces[0].score);
  // As a browser's canvas.toDataURL() gives it.
  const dataUrl = await serve.request({ op: 'login', imageBase64: `data:image/jpeg;base64,${readFileSync(a).toString('base64')}` });
  expect(dataUrl.faces[0].score).toBe(first.faces[0].score);
  expect((await login(b)).faces[0].decision).toBe('UNKNOWN');

  // Other processes commit; the next request sees it.
  expect(cli('enroll', 'bob', b, '-q').code).toBe(0);
  expect(await login(b)).toMatchObject({ accepted: true, faces: [{ id: 'bob' }] });
  // Enrolling through the service: the duplicate check runs as in `facectl enroll`, then the next login sees it.
  const refused = await serve.request({ id: 7, op: 'enroll', identity: 'bobby', images: [b] });
  expect(refused).toMatchObject({ id: 7, ok: false, exitCode: ExitCode.DUPLICATE_IDENTITY });
  const c = await faceCrop('c');
  expect(await serve.request({ id: 8, op: 'enroll', identity: 'carol', name: 'Carol', images: [c] })).toMatchObject({ id: 8, ok: true, enrolled: 'carol', name: 'Carol', added: 1 });
  expect(await login(c)).toMatchObject({ accepted: true, faces: [{ id: 'carol', name: 'Carol' }] });
  expect(JSON.parse(cli('list', '--json').stdout).identities.map((i: { id: string }) => i.id).sort()).toEqual(['alice', 'bob', 'carol']);
  // And removing through it: the next login no longer finds her; an unknown id is exit 8.
  expect(await serve.request({ id: 9, op: 'remove', identity: 'carol' })).toMatchObject({ id: 9, ok: true, removed: 'carol', faces: 1 });
  expect(await login(c)).toMatchObject({ accepted: false, faces: [{ decision: 'UNKNOWN' }] });
  expect(await serve.request({ op: 'remove', identity: 'carol' })).toMatchObject({ ok: false, exitCode: ExitCode.UNKNOWN_ID });
  expect(await serve.request({ op: 'ping' })).toMatchObject({ ok: true, identities: 2, faces: 2 });
  expect(cli('remove', 'alice').code).toBe(0);
  expect(await login(a)).toMatchObject({ accepted: false, faces: [{ decision: 'UNKNOWN' }] });

  // Bad requests: the one-shot command's exit code, and the service goes on.
  const bad: [unknown, number, RegExp][] = [
    ['not json', ExitCode.USAGE, /not a JSON object/],
    [{ op: 'dance' }, ExitCode.USAGE, /unknown op "dance"/],
    // Echoed as it came, a deeply nested id overflowed JSON.stringify and killed the service.
    [`{"id":${'['.repeat(5000)}${']'.repeat(5000)},"op":"ping"}`, ExitCode.USAGE, /^"id" must be a string, a number or null$/],
    [{ op: [['ping']] }, ExitCode.USAGE, /^"op" must be one of login, enroll, remove, embed or ping$/],
    [{ op: 'login' }, ExitCode.USAGE, /"image" \(a path\) or "imageBase64"/],
    [{ op: 'login', image: path.join(tmp, 'missing.jpg') }, ExitCode.NOT_FOUND, /missing\.jpg: no such file/],
    [{ op: 'login', imageBase64: Buffer.from('not a photo').toString('base64') }, ExitCode.BAD_IMAGE, /\(imageBase64\): not a supported image/],
    [{ op: 'login', image: a, top: 0 }, ExitCode.USAGE, /"top" must be an integer/],
    [{ op: 'enroll', identity: 'x', imageBase64: 'AAAA' }, ExitCode.USAGE, /"images" must be a list of photo paths/],
    [{ op: 'enroll', identity: '../evil', images: [a] }, ExitCode.INVALID_ID, /^invalid id /],
  ];
  for (const [request, code, message] of bad) {
    const r = await serve.request(request);
    expect(r).toMatchObject({ ok: false, exitCode: code });
    expect(r.error).toMatch(message);
  }
  const embed = await serve.request({ op: 'embed', image: b });
  expect(embed.faces[0].embedding).toHaveLength(embed.model.dimension);
  expect(await login(b)).toMatchObject({ accepted: true, faces: [{ id: 'bob' }] });
  expect(await serve.end()).toBe(0);
  expect(serve.stderr).toMatch(/serving .* 1 identities/);
}

describe.skipIf(!hasSamples)(`facectl serve${hasSamples ? '' : ` (${SKIP_NO_SAMPLES})`}`, () => {
  it('on a store directory', async () => {
    await story(path.join(tmp, 'store'));
  }, 180_000);

  describe('on PostgreSQL', () => {
    const server = usePgServer(60_000);
    it('the same, against a database another process writes to', async () => {
      await story(server.url(uniqueSchema()));
    }, 180_000);

    it('that stops answering (the network drops silently): a request answers exit 15 after query_timeout, then the service reconnects', async () => {
      const proxy = await startPgProxy(server.url(uniqueSchema()));
      try {
        const store = `${proxy.url()}&query_timeout=1&connect_timeout=1`;
        const a = await faceCrop('a');
        expect(runCli(['enroll', 'alice', a, '-q', '--store', store], env).code).toBe(0);
        const serve = new ServeClient(['--store', store], env);
        expect(await serve.request({ op: 'login', image: a })).toMatchObject({ ok: true, accepted: true });
        await proxy.freeze();
        const t0 = performance.now();
        // The store's generation read gets no answer within 1 s; the new connection tried then, none within 1 s.
        const hung = await serve.request({ op: 'login', image: a });
        expect(hung).toMatchObject({ ok: false, exitCode: ExitCode.DB_UNREACHABLE });
        expect(hung.error).toMatch(/^cannot connect to PostgreSQL at postgres:\/\/postgres@127\.0\.0\.1:\d+\/postgres\?schema=\w+&query_timeout=1&connect_timeout=1 \(timeout expired\)$/);
        expect(await serve.request({ op: 'ping' })).toMatchObject({ ok: false, exitCode: ExitCode.DB_UNREACHABLE });
        expect(performance.now() - t0).toBeLessThan(8000);
        await proxy.thaw();
        expect(await serve.request({ op: 'login', image: a })).toMatchObject({ ok: true, accepted: true, faces: [{ id: 'alice' }] });
        expect(await serve.end()).toBe(0);
      } finally {
        await proxy.stop();
      }
    }, 180_000);

    it('with a password: after another process commits, the service reconnects with it, not with the *** it prints', async () => {
      const proxy = await startPgProxy(server.url(uniqueSchema()), { password: 'secret' });
      try {
        const store = proxy.url('postgres:secret');
        const [a, b] = [await faceCrop('a'), await faceCrop('b')];
        expect(runCli(['enroll', 'alice', a, '-q', '--store', store], env).code).toBe(0);
        const serve = new ServeClient(['--store', store], env);
        expect(await serve.request({ op: 'login', image: a })).toMatchObject({ ok: true, accepted: true });
        expect(runCli(['enroll', 'bob', b, '-q', '--store', store], env).code).toBe(0);
        expect(await serve.request({ op: 'login', image: b })).toMatchObject({ ok: true, accepted: true, faces: [{ id: 'bob' }] });
        expect(await serve.request({ op: 'ping' })).toMatchObject({ ok: true, store: expect.stringContaining('postgres:***@'), identities: 2 });
        expect(await serve.end()).toBe(0);
        expect(proxy.passwords.filter((p) => p !== 'secret')).toEqual([]);
        expect(serve.stderr).not.toContain('secret');
      } finally {
        await proxy.stop();
      }
    }, 180_000);
  });

  it('PostgreSQL restarting: requests answer exit 15 while it is away, and logins, enrolls and removes work again once it is back', async () => {
    const data = path.join(tmp, 'pgdata');
    const start = (port: number) => {
      const child = spawn(process.execPath, ['--import', 'tsx', path.join(repoRoot, 'scripts/pg-serve.ts'), '--port', String(port), '--data', data], { cwd: repoRoot });
      const url = new Promise<string>((resolve, reject) => {
        let out = '';
        child.stdout.on('data', (d) => {
          out += d;
          const m = /^url (\S+)$/m.exec(out);
          if (m) resolve(m[1]!);
        });
        child.on('close', (code) => reject(new Error(`pg-serve exited (${code}): ${out}`)));
      });
      return { child, url, closed: new Promise((resolve) => child.on('close', resolve)) };
    };
    let db = start(0);
    const base = await db.url;
    const port = Number(new URL(base).port);
    const store = `${base}?schema=${uniqueSchema()}`;
    const [a, b] = [await faceCrop('a'), await faceCrop('b')];
    expect(runCli(['enroll', 'alice', a, '-q', '--store', store], env).code).toBe(0);
    const serve = new ServeClient(['--store', store], env);
    const restart = async () => {
      db.child.kill('SIGTERM');
      await db.closed;
      db = start(port); // the same data, the same address
      await db.url;
    };
    try {
      expect(await serve.request({ op: 'login', image: a })).toMatchObject({ ok: true, accepted: true });
      db.child.kill('SIGTERM');
      await db.closed;
      for (const request of [{ op: 'login', image: a }, { op: 'ping' }, { op: 'enroll', identity: 'bob', images: [b] }, { op: 'remove', identity: 'alice' }])
        expect(await serve.request(request)).toMatchObject({ ok: false, exitCode: ExitCode.DB_UNREACHABLE });
      db = start(port);
      await db.url;
      expect(await serve.request({ op: 'login', image: a })).toMatchObject({ ok: true, accepted: true, faces: [{ id: 'alice' }] });
      // An enroll or a remove as the first request after a restart reconnects too, as a login does.
      await restart();
      expect(await serve.request({ op: 'enroll', identity: 'bob', images: [b] })).toMatchObject({ ok: true, enrolled: 'bob' });
      await restart();
      expect(await serve.request({ op: 'remove', identity: 'bob' })).toMatchObject({ ok: true, removed: 'bob' });
      expect(await serve.request({ op: 'login', image: b })).toMatchObject({ ok: true, accepted: false });
      expect(await serve.end()).toBe(0);
    } finally {
      db.child.kill('SIGTERM');
      await db.closed;
    }
  }, 180_000);

  it('an empty store: serve starts, ping answers, a login is exit 11 until someone is enrolled through it', async () => {
    const store = path.join(tmp, 'emptied');
    const a = await faceCrop('a');
    const cli = (...argv: string[]) => runCli([...argv, '--store', store], env);
    expect(cli('enroll', 'alice', a, '-q').code).toBe(0);
    expect(cli('remove', 'alice').code).toBe(0);
    const oneShot = cli('login', a);
    expect(oneShot.code).toBe(ExitCode.STORE_ERROR);
    expect(oneShot.stderr).toMatch(/the store is empty: enroll someone first/);
    const serve = new ServeClient(['--store', store], env);
    // A service that refuses to start answers nothing: its exit is the answer then.
    const ping = await Promise.race([serve.request({ op: 'ping' }), serve.exited.then((code) => ({ exited: code, stderr: serve.stderr }))]);
    expect(ping).toMatchObject({ ok: true, identities: 0, faces: 0 });
    const empty = await serve.request({ op: 'login', image: a });
    expect(empty).toMatchObject({ ok: false, exitCode: ExitCode.STORE_ERROR });
    expect(empty.error).toMatch(/the store is empty: enroll someone first/);
    expect(await serve.request({ op: 'enroll', identity: 'alice', images: [a] })).toMatchObject({ ok: true, enrolled: 'alice' });
    expect(await serve.request({ op: 'login', image: a })).toMatchObject({ ok: true, accepted: true, faces: [{ id: 'alice' }] });
    expect(await serve.end()).toBe(0);
    expect(serve.stderr).toMatch(/serving .* \(ensemble-noflip, 0 identities\)/);
  }, 180_000);

  it('a store that does not exist: exit 14 before reading any request', () => {
    const r = runCli(['serve', '--store', path.join(tmp, 'nothing-here')], env, Buffer.from('{"op":"ping"}\n'));
    expect(r.code).toBe(ExitCode.NOT_FOUND);
    expect(r.stdout).toBe('');
  });
});
