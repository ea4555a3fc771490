/**
 * The connection lost while COMMIT is in flight: the server may have committed, so the error (still exit
 * 15) says the change may or may not have been committed, rather than that it failed (a remove repeated
 * on that word then said "unknown id"). Here the COMMIT reaches the server and only its answer is lost.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ExitCode } from '../../src/errors.js';
import { pgTestHooks } from '../../src/gallery/postgres/draft.js';
import { PostgresGallery } from '../../src/gallery/postgres/gallery.js';
import { expectFacectlError } from '../store/helpers.js';
import { startPgProxy } from '../helpers/pg-proxy.js';
import { startPgServer, uniqueSchema, type PgServer } from '../helpers/pg-server.js';
import { MODEL, newFace, unitVectors } from './contract.js';

let server: PgServer;
beforeAll(async () => {
  server = await startPgServer();
}, 120_000);
afterAll(async () => server?.stop());

describe('postgres gallery: the connection lost during COMMIT', () => {
  it('exit 15 saying the change may or may not have been committed (here it was); a loss before COMMIT still says plainly that it was lost', async () => {
    const schema = uniqueSchema();
    const proxy = await startPgProxy(server.url(schema));
    try {
      const g = await PostgresGallery.open(`${proxy.url()}&query_timeout=1`);
      await g.mutate(async (d) => d.addFaces(MODEL, unitVectors(2).map((v, i) => newFace(i ? 'bob' : 'amy', v))));
      pgTestHooks.onStep = (step) => (step === 'before-commit' ? proxy.freezeAnswers() : undefined);
      try {
        await expectFacectlError(
          () => g.mutate((d) => d.removeIdentity('bob')),
          ExitCode.DB_UNREACHABLE,
          /^no answer from PostgreSQL at postgres:\/\/\S+ within 1 s \(query_timeout\): the network or the server stopped responding; the change may or may not have been committed: check with `facectl list`$/,
        );
      } finally {
        pgTestHooks.onStep = undefined;
        await g.close();
      }
      const direct = await PostgresGallery.open(server.url(schema));
      try {
        expect((await direct.identities()).map((i) => i.id)).toEqual(['amy']); // committed after all
      } finally {
        await direct.close();
      }
      // Lost before COMMIT was sent: nothing was committed, and the message says no more than that.
      await proxy.thaw();
      const again = await PostgresGallery.open(`${proxy.url()}&query_timeout=1`);
      pgTestHooks.onStep = (step) => (step === 'faces-inserted' ? proxy.freeze() : undefined);
      try {
        const err = await expectFacectlError(() => again.mutate(async (d) => d.addFaces(MODEL, [newFace('cy', unitVectors(1, undefined, 5)[0]!)])), ExitCode.DB_UNREACHABLE, /^no answer from PostgreSQL/);
        expect(err.message).not.toMatch(/may or may not/);
      } finally {
        pgTestHooks.onStep = undefined;
        await again.close();
      }
    } finally {
      await proxy.stop();
    }
  });
});
