/** `--store <dir | postgres://…>` for every command that works on a gallery, and opening it once. */
import type { Command } from 'commander';
import type { OpenGalleryOptions } from '../gallery/open.js';
import type { Gallery } from '../gallery/types.js';

export const storeOption = (cmd: Command): Command =>
  cmd.option(
    '--store <dir|url>',
    'gallery: a store directory, or postgres://user[:password]@host[:port]/db[?schema=name] (default $FACECTL_STORE, else $XDG_DATA_HOME/facectl/store, else ~/.local/share/facectl/store)',
  );

/** The command's gallery; `mustExist` for commands that only read it, `search` for those that log in. Close it when done. */
export async function openStore(opts: { store?: string }, options: OpenGalleryOptions = {}): Promise<Gallery> {
  const { openGallery, resolveGalleryLocation } = await import('../gallery/open.js');
  return openGallery(resolveGalleryLocation(opts.store), options);
}

/** Runs `body` with the gallery open, closing it (database connections) whatever happens. */
export async function withStore<T>(opts: { store?: string }, options: OpenGalleryOptions, body: (gallery: Gallery) => Promise<T>): Promise<T> {
  const gallery = await openStore(opts, options);
  try {
    return await body(gallery);
  } finally {
    await gallery.close();
  }
}
