/** A gallery from what the user typed: `postgres://…` / `postgresql://…` is PostgreSQL, another URL is refused, anything else a store directory. */
import { ExitCode, FacectlError } from '../errors.js';
import { defaultStoreDir } from '../store/index.js';
import { FilesGallery } from './files.js';
import { atAfterHost, redact } from '../redact-url.js';
import type { Gallery } from './types.js';

export interface OpenGalleryOptions {
  /** Reads: refuse a location that holds no gallery (NOT_FOUND); writes create it on first commit. */
  mustExist?: boolean;
  /**
   * The caller searches the gallery (login, serve): a store directory is read with its embeddings at first
   * use. Otherwise what needs none (info, list, rows) reads only the rest, and a search reads it all again.
   */
  search?: boolean;
}

export const isPostgresUrl = (location: string): boolean => /^postgres(ql)?:\/\//i.test(location);

/**
 * A scheme and a slash (`pg://…`, `postgres:/…`), or a postgres scheme however it goes on: a mistyped
 * URL, which taken as a folder path became a store folder named after it, password and all. A drive
 * letter (`C:\`, `C:/`) is one letter, so never a scheme here.
 */
const looksLikeUrl = (location: string): boolean => /^[a-z][a-z0-9+.-]+:\//i.test(location) || /^postgres(ql)?:/i.test(location);

/** --store, else $FACECTL_STORE, else the default store directory. */
export function resolveGalleryLocation(option?: string, env: NodeJS.ProcessEnv = process.env): string {
  // An empty --store (an unset variable in a script) must not silently mean the user's own store: openGallery refuses it.
  if (option !== undefined) return option;
  if (env.FACECTL_STORE) return env.FACECTL_STORE;
  return defaultStoreDir(env);
}

export async function openGallery(location: string, options: OpenGalleryOptions = {}): Promise<Gallery> {
  if (location === '') throw new FacectlError(ExitCode.USAGE, 'the store location is empty: give a folder or a postgres:// URL');
  if (!isPostgresUrl(location) && looksLikeUrl(location))
    throw new FacectlError(
      ExitCode.USAGE,
      `store location ${redact(location)} looks like a URL but is not postgres://… or postgresql://…: a database is postgres://user[:password]@host[:port]/database, a folder so named needs ./ before it`,
    );
  if (isPostgresUrl(location) && hasAtAfterHost(location))
    throw new FacectlError(
      ExitCode.USAGE,
      `store location ${redact(location)} has an @ after its host: percent-encode the password's special characters (# as %23, ? as %3F, / as %2F, @ as %40)`,
    );
  if (isPostgresUrl(location)) {
    // Loaded only when asked for, so file-store commands never load the PostgreSQL driver.
    const { PostgresGallery } = await import('./postgres/gallery.js');
    return PostgresGallery.open(location, options);
  }
  return FilesGallery.open(location, options);
}

function hasAtAfterHost(location: string): boolean {
  try {
    return atAfterHost(new URL(location));
  } catch {
    return false; // a URL that does not parse is refused with its own message
  }
}
