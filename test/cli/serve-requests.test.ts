/**
 * `facectl serve` and the requests it is sent: a photo path that is the service's own standard input or
 * output, unknown fields, huge values echoed back, a store changed under it by another terminal (deleted,
 * dropped, re-embedded with another model), imageBase64 that is not base64, a standard input that is a
 * directory. Each answer is exit code + one line, and the service goes on. Real faces cut from the sample
 * photos `npm ci` installs (test/helpers/samples.ts).
 */
import { spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { answerLine } from '../../src/cli/serve.js';
import { ExitCode } from '../../src/errors.js';
import { clientFor, parsePgUrl } from '../../src/gallery/postgres/connection.js';
import { CLI_ENTRY, runCli } from '../helpers/cli.js';
import { uniqueSchema, usePgServer } from '../helpers/pg-server.js';
import { faceCrop, hasSamples, SKIP_NO_SAMPLES } from '../helpers/samples.js';
import { ServeClient } from '../helpers/serve-client.js';
import { repoRoot } from '../helpers/shared.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'facectl-serve-requests-'));
const env = { FACECTL_CACHE_DIR: path.join(tmp, 'cache') };

/** A service on `store` for `body`, killed after it whatever happens (one left running would hold the test up). */
async function serving(store: string, body: (serve: ServeClient) => Promise<void>): Promise<void> {
  const serve = new ServeClient(['--store', store], env);
  try {
    await body(serve);
  } finally {
    serve.kill();
  }
}
let counter = 0;

/** A new store directory with alice enrolled (one-shot enroll), and her photo. */
async function storeWithAlice(at?: string): Promise<{ store: string; a: string }> {
  const store = at ?? path.join(tmp, `store-${counter++}`);
  const a = await faceCrop('a');
  const r = runCli(['enroll', 'alice', a, '-q', '--store', store], env);
  expect(r.code, r.stderr).toBe(0);
  return { store, a };
}

describe.skipIf(!hasSamples)(`facectl serve requests${hasSamples ? '' : ` (${SKIP_NO_SAMPLES})`}`, () => {
  beforeAll(async () => {
    await faceCrop('a');
  });

  it("a photo that is the service's own standard input, output or error is refused (exit 2), and the service goes on", async () => {
    const { store, a } = await storeWithAlice();
    const link = path.join(tmp, 'stdin-link.jpg');
    symlinkSync('/proc/self/fd/0', link);
    await serving(store, async (serve) => {
      for (const image of ['/dev/stdin', '/dev/fd/0', '/proc/self/fd/0', '/proc/self/fd/1', '/proc/self/fd/2', '/dev/stdout', link]) {
        const r = await serve.request({ id: image, op: 'login', image }, 20_000);
        expect(r, image).toMatchObject({ id: image, ok: false, exitCode: ExitCode.USAGE });
        expect(r.error).toMatch(/image must not be the service's own standard (input|output|error)$/);
      }
      const enroll = await serve.request({ op: 'enroll', identity: 'bob', images: [a, '/dev/stdin'] }, 20_000);
      expect(enroll).toMatchObject({ ok: false, exitCode: ExitCode.USAGE, error: "/dev/stdin: image must not be the service's own standard input" });
      expect(await serve.request({ op: 'embed', image: '/proc/self/fd/0' }, 20_000)).toMatchObject({ ok: false, exitCode: ExitCode.USAGE });
      // Later requests are still read and answered.
      expect(await serve.request({ op: 'login', image: a }, 20_000)).toMatchObject({ ok: true, accepted: true, faces: [{ id: 'alice' }] });
      expect(await serve.request({ op: 'remove', identity: 'alice' }, 20_000)).toMatchObject({ ok: true, removed: 'alice' });
      expect(await serve.end()).toBe(0);
      expect(serve.unexpected).toEqual([]);
    });
  }, 180_000);

  it('a field the op does not take is refused (exit 2) with the nearest one it does, never ignored', async () => {
    const { store, a } = await storeWithAlice();
    await serving(store, async (serve) => {
      const cases: [Record<string, unknown>, RegExp][] = [
        // Ignored, it accepted at the store's threshold a login the caller meant to decide at 0.99.
        [{ op: 'login', image: a, threshold: 0.99 }, /^"threshold" is not a request field: the login threshold is an option of the service \(facectl serve --threshold t\)/],
        [{ op: 'login', image: a, allfaces: true }, /^unknown field "allfaces" for login: did you mean "allFaces"\? \(login takes "id", "op", "image", "imageBase64", "top", "allFaces"\)$/],
        [{ op: 'login', image: a, Top: 1 }, /^unknown field "Top" for login: did you mean "top"\?/],
        [{ op: 'embed', image: a, top: 1 }, /^unknown field "top" for embed \(embed takes "id", "op", "image", "imageBase64", "allFaces"\)$/],
        [{ op: 'enroll', identity: 'bob', images: [a], skipbad: true, forse: true }, /^unknown field "skipbad" \(and 1 more\) for enroll: did you mean "skipBad"\?/],
        [{ op: 'remove', identity: 'alice', force: true }, /^unknown field "force" for remove \(remove takes "id", "op", "identity"\)$/],
        [{ op: 'ping', verbose: true }, /^unknown field "verbose" for ping \(ping takes "id", "op"\)$/],
        [{ op: 'ping', ['x'.repeat(100_000)]: 1 }, /^unknown field "x{80}…" for ping \(ping takes "id", "op"\)$/],
      ];
      for (const [request, message] of cases) {
        const r = await serve.request({ id: 5, ...request }, 20_000);
        expect(r, JSON.stringify(request).slice(0, 100)).toMatchObject({ id: 5, ok: false, exitCode: ExitCode.USAGE });
        expect(r.error).toMatch(message);
      }
      // Nothing was done: alice is still there, bob was not enrolled.
      expect(await serve.request({ op: 'ping' }, 20_000)).toMatchObject({ ok: true, identities: 1 });
      expect(await serve.request({ op: 'login', image: a, allFaces: true, top: 1 }, 20_000)).toMatchObject({ ok: true, accepted: true, faces: [{ id: 'alice' }] });
      expect(await serve.end()).toBe(0);
    });
  }, 180_000);

  it('a store directory removed under the service: a login is exit 14, an enroll creates the store anew, as the one-shot enroll does', async () => {
    const { store, a } = await storeWithAlice();
    const b = await faceCrop('b');
    await serving(store, async (serve) => {
      expect(await serve.request({ op: 'login', image: a }, 20_000)).toMatchObject({ ok: true, accepted: true });
      rmSync(store, { recursive: true });
      expect(await serve.request({ op: 'login', image: a }, 20_000)).toMatchObject({ ok: false, exitCode: ExitCode.NOT_FOUND });
      expect(await serve.request({ op: 'enroll', identity: 'bob', images: [b] }, 60_000)).toMatchObject({ ok: true, enrolled: 'bob', added: 1 });
      expect(await serve.request({ op: 'login', image: b }, 20_000)).toMatchObject({ ok: true, accepted: true, faces: [{ id: 'bob' }] });
      expect(await serve.request({ op: 'login', image: a }, 20_000)).toMatchObject({ ok: true, accepted: false });
      expect(await serve.request({ op: 'ping' }, 20_000)).toMatchObject({ ok: true, identities: 1, faces: 1 });
      expect(await serve.end()).toBe(0);
      expect(JSON.parse(runCli(['list', '--json', '--store', store], env).stdout).identities.map((i: { id: string }) => i.id)).toEqual(['bob']);
    });
  }, 180_000);

  it('a store re-embedded with another model under the service: login, embed and ping say to restart it (exit 10), and a restarted service uses the new model', async () => {
    const { store, a } = await storeWithAlice();
    await serving(store, async (serve) => {
      expect(await serve.request({ op: 'embed', image: a }, 20_000)).toMatchObject({ ok: true, model: { id: 'ensemble-noflip' } });
      const rebuilt = runCli(['index', 'rebuild', '--reembed', '--model', 'mobilefacenet', '-q', '--store', store], env);
      expect(rebuilt.code, rebuilt.stderr).toBe(0);
      for (const request of [{ op: 'login', image: a }, { op: 'embed', image: a }, { op: 'ping' }]) {
        const r = await serve.request(request, 20_000);
        expect(r, request.op).toMatchObject({ ok: false, exitCode: ExitCode.MODEL_MISMATCH });
        expect(r.error).toMatch(/: the store now uses model mobilefacenet \(detector blazeface, fp:\w+\); this service loaded ensemble-noflip \(detector blazeface\): restart facectl serve$/);
        expect(r.error).not.toMatch(/--model|--reembed/);
      }
      expect(await serve.end()).toBe(0);
    });
    const again = new ServeClient(['--store', store], env);
    try {
      expect(await again.request({ op: 'login', image: a }, 20_000)).toMatchObject({ ok: true, accepted: true, faces: [{ id: 'alice' }] });
      expect(await again.request({ op: 'embed', image: a }, 20_000)).toMatchObject({ ok: true, model: { id: 'mobilefacenet', dimension: 192 } });
      expect(await again.end()).toBe(0);
    } finally {
      again.kill();
    }
  }, 240_000);

  it('imageBase64 that is not base64 is exit 2, not an "empty file" (exit 6)', async () => {
    const { store, a } = await storeWithAlice();
    await serving(store, async (serve) => {
      for (const imageBase64 of ['!!!!', 'data:image/jpeg;base64,@@@@', 'AAAA!', 'AAAAA']) {
        const r = await serve.request({ op: 'login', imageBase64 }, 20_000);
        expect(r, imageBase64).toMatchObject({ ok: false, exitCode: ExitCode.USAGE, error: '"imageBase64" is not valid base64 (the file\'s bytes, or a data: URL)' });
      }
      const b64 = readFileSync(a).toString('base64');
      expect(await serve.request({ op: 'login', imageBase64: b64 }, 20_000)).toMatchObject({ ok: true, accepted: true });
      expect(await serve.request({ op: 'login', imageBase64: b64.replace(/=+$/, '') }, 20_000)).toMatchObject({ ok: true, accepted: true });
      expect(await serve.end()).toBe(0);
    });
  }, 180_000);

  describe('on PostgreSQL', () => {
    const server = usePgServer(60_000);

    it('DROP SCHEMA … CASCADE under the service: requests are exit 14 "no facectl gallery" (not a raw SQL error, exit 11), and an enroll creates the gallery anew', async () => {
      const schema = uniqueSchema();
      const { store, a } = await storeWithAlice(server.url(schema));
      const b = await faceCrop('b');
      await serving(store, async (serve) => {
        expect(await serve.request({ op: 'login', image: a }, 20_000)).toMatchObject({ ok: true, accepted: true });
        const c = clientFor(parsePgUrl(store));
        await c.connect();
        await c.query(`DROP SCHEMA "${schema}" CASCADE`);
        await c.end();
        // What the one-shot login says.
        const oneShot = runCli(['login', a, '--store', store], env);
        expect(oneShot.code).toBe(ExitCode.NOT_FOUND);
        for (const request of [{ op: 'login', image: a }, { op: 'ping' }, { op: 'remove', identity: 'alice' }]) {
          const r = await serve.request(request, 20_000);
          expect(r, request.op).toMatchObject({ ok: false, exitCode: ExitCode.NOT_FOUND });
          expect(r.error).toMatch(new RegExp(`^no facectl gallery in schema "${schema}" at .*: enroll someone first$`));
        }
        expect(await serve.request({ op: 'enroll', identity: 'bob', images: [b] }, 60_000)).toMatchObject({ ok: true, enrolled: 'bob', added: 1 });
        expect(await serve.request({ op: 'login', image: b }, 20_000)).toMatchObject({ ok: true, accepted: true, faces: [{ id: 'bob' }] });
        expect(await serve.request({ op: 'ping' }, 20_000)).toMatchObject({ ok: true, identities: 1, faces: 1 });
        expect(await serve.end()).toBe(0);
        expect(JSON.parse(runCli(['list', '--json', '--store', store], env).stdout).identities.map((i: { id: string }) => i.id)).toEqual(['bob']);
      });
    }, 180_000);
  });

  it('a bad value is echoed as a short excerpt, never whole (a 280 MiB "op" of quotes killed the service)', async () => {
    const { store } = await storeWithAlice();
    await serving(store, async (serve) => {
      const op = '"'.repeat(200_000);
      const r = await serve.request({ id: 1, op }, 20_000);
      expect(r).toMatchObject({ id: 1, ok: false, exitCode: ExitCode.USAGE });
      expect(r.error).toMatch(/^unknown op "(\\"){80}…": login, enroll, remove, embed or ping$/);
      expect(await serve.request({ op: 'ping' }, 20_000)).toMatchObject({ ok: true, identities: 1 });
      expect(await serve.end()).toBe(0);
    });
  }, 180_000);
});

describe.skipIf(!hasSamples)('serve with a directory for standard input', () => {
  it('is exit 2 with one line, not exit 0 having answered nothing', async () => {
    const { store } = await storeWithAlice();
    const dir = mkdtempSync(path.join(tmp, 'stdin-dir-'));
    const fd = openSync(dir, 'r');
    try {
      const r = spawnSync(process.execPath, ['--import', 'tsx', CLI_ENTRY, 'serve', '--store', store], { cwd: repoRoot, env: { ...process.env, ...env }, stdio: [fd, 'pipe', 'pipe'], encoding: 'utf8', timeout: 120_000 });
      expect(r.status).toBe(ExitCode.USAGE);
      expect(r.stdout).toBe('');
      expect(r.stderr).toBe('facectl: standard input is a directory: send one JSON request per line (facectl serve < requests.jsonl, or a pipe)\n');
    } finally {
      closeSync(fd);
    }
  }, 120_000);
});

describe('serve answer lines', () => {
  const throwing = { toJSON: () => { throw new RangeError('Invalid string length'); } };
  it('an answer that cannot be serialised becomes exit 2 "answer too large", with its id when that fits', () => {
    expect(JSON.parse(answerLine({ id: 'x', ok: true, faces: throwing }))).toEqual({ id: 'x', ok: false, exitCode: ExitCode.USAGE, error: 'answer too large to send (Invalid string length)' });
    expect(JSON.parse(answerLine({ id: throwing, ok: true }))).toEqual({ id: null, ok: false, exitCode: ExitCode.USAGE, error: 'answer too large to send (Invalid string length)' });
    expect(answerLine({ id: 1, ok: true, op: 'ping' })).toBe('{"id":1,"ok":true,"op":"ping"}\n');
  });
});
