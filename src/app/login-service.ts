/**
 * Logins from a long-lived process (`facectl serve`): the pipeline is loaded and the gallery opened once,
 * so a login costs what a warm one does (`npm run bench:login`) instead of a process start with model
 * loading. Another process's commit (enroll, remove, calibrate) changes the gallery's committed state;
 * each request checks it first (one small read) and reopens the gallery when it changed, so no login is
 * decided against an older gallery than the one committed when it began. Its own enrolls and removes
 * (`write`) leave the gallery holding what they committed: the service adopts that, without reading the
 * gallery again (at 1e5 identities a reread cost seconds and doubled the memory held).
 */
import { ExitCode, FacectlError } from '../errors.js';
import type { Gallery, ModelInfo } from '../gallery/types.js';
import type { FacePipeline, PhotoInput } from '../pipeline/pipeline.js';
import { ModelMismatchError, storeDetector, storeModelInfo } from './store-model.js';
import { loginWith, openLoginContext, type LoginContext, type LoginOptions, type LoginResult } from './login.js';

/**
 * The login context over `gallery`, and the committed state read just before it: a commit in between
 * costs one more reopen at the next request, never a login against an older gallery.
 */
async function openContext(pipeline: FacePipeline, gallery: Gallery, options: Pick<LoginOptions, 'threshold' | 'index'>): Promise<{ ctx: LoginContext; state: string }> {
  const state = await gallery.committedState();
  return { ctx: await openLoginContext(pipeline, gallery, options), state };
}

export class LoginService {
  private constructor(
    private readonly pipeline: FacePipeline,
    private readonly options: Pick<LoginOptions, 'threshold' | 'index'>,
    private ctx: LoginContext,
    /** The committed state read before `ctx` (Gallery.committedState). */
    private state: string,
  ) {}

  /** Over an opened gallery, which the service then owns (and closes). */
  static async open(pipeline: FacePipeline, gallery: Gallery, options: Pick<LoginOptions, 'threshold' | 'index'>): Promise<LoginService> {
    const { ctx, state } = await openContext(pipeline, gallery, options);
    return new LoginService(pipeline, options, ctx, state);
  }

  get gallery(): Gallery {
    return this.ctx.gallery;
  }

  /** The gallery as the last login saw it (identities, generation, threshold). */
  get context(): LoginContext {
    return this.ctx;
  }

  async login(image: PhotoInput, options: Pick<LoginOptions, 'top' | 'allFaces'>): Promise<LoginResult> {
    await this.refresh();
    return loginWith(this.pipeline, this.ctx, image, options);
  }

  /**
   * Runs a change of the service's own (an enroll, a remove) on its gallery, then logs in against what it
   * committed: a gallery that keeps its view in memory (Gallery.viewState, a store directory) holds the
   * state its commit wrote, which the service adopts, so the next request does not read the gallery again;
   * a commit by another process since then still differs from it, and is read as before. Call refresh()
   * first, as for a login. Without a view (PostgreSQL), the next request reopens as after any commit.
   */
  async write<T>(change: (gallery: Gallery) => Promise<T>): Promise<T> {
    try {
      return await change(this.ctx.gallery);
    } finally {
      await this.adoptView();
    }
  }

  /** The gallery's own view as the login context, when it holds another state than the one logged in against. */
  private async adoptView(): Promise<void> {
    const gallery = this.ctx.gallery;
    const held = gallery.viewState?.();
    if (held === undefined || held === this.state) return;
    try {
      this.ctx = await openLoginContext(this.pipeline, gallery, this.options);
      this.state = held;
    } catch {
      // Left to the next request's refresh(), which reopens the gallery and reports what is wrong.
    }
  }

  /**
   * Reopens the gallery when another process committed since it was read, or when its database
   * connection was lost (a restart, the network): a new connection is tried at each request, which fails
   * with the same exit code (15) while the server is still away and succeeds once it is back.
   * `create`: for an enroll, a gallery deleted meanwhile is opened empty (the enroll creates it); other
   * requests get exit 14 then, as the one-shot commands do.
   */
  async refresh(options: { create?: boolean } = {}): Promise<boolean> {
    const old = this.ctx.gallery;
    let state: string | undefined;
    try {
      state = await old.committedState();
    } catch (err) {
      if (!(err instanceof FacectlError && err.code === ExitCode.DB_UNREACHABLE)) throw err;
    }
    if (state === this.state) return false;
    // What the old view holds (a store's snapshot, its index) goes first: a service never holds two. The
    // old gallery stays usable, reading again on demand, should the new one fail to open.
    await old.release?.();
    // An enroll may create a gallery deleted meanwhile (rm -rf, DROP SCHEMA), as the one-shot enroll does.
    const fresh = await old.reopen({ mustExist: !options.create });
    try {
      ({ ctx: this.ctx, state: this.state } = await openContext(this.pipeline, fresh, this.options));
    } catch (err) {
      // E.g. re-embedded with another model: this request fails, the old gallery stays open.
      const changed = err instanceof ModelMismatchError ? this.modelChanged(err.stored, fresh.location) : err;
      await fresh.close();
      throw changed;
    }
    await old.close().catch(() => undefined); // a lost connection may not close cleanly
    return true;
  }

  /**
   * MODEL_MISMATCH for a gallery re-embedded with another model (or detector) by another terminal since the
   * service started. The one-shot advice (--model, or index rebuild --reembed) is no use to a service
   * whose pipeline is loaded for the old model: it has to be started again, and then uses the store's.
   */
  private modelChanged(stored: ModelInfo, location: string): FacectlError {
    const mine = storeModelInfo(this.pipeline.embedderInfo!);
    return new FacectlError(
      ExitCode.MODEL_MISMATCH,
      `the store now uses model ${stored.id} (detector ${storeDetector(stored)}, ${stored.hash}); this service loaded ${mine.id} (detector ${this.pipeline.embedderInfo!.detector}): restart facectl serve`,
      location,
    );
  }

  close(): Promise<void> {
    return this.ctx.gallery.close();
  }
}
