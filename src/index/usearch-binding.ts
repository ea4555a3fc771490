/**
 * Lazy access to the usearch native binding (only the hnsw index needs it).
 *
 * usearch 2.25.3's ESM entry never finds its prebuilt binary: it walks up from a file://
 * URL with path.join and recurses forever ("Maximum call stack size exceeded"). Its
 * CommonJS entry resolves the binary correctly, so load that one through createRequire.
 */
import { createRequire } from 'node:module';

type UsearchModule = typeof import('usearch');
export type UsearchIndex = InstanceType<UsearchModule['Index']>;

let loaded: UsearchModule | undefined;

export function usearch(): UsearchModule {
  loaded ??= createRequire(import.meta.url)('usearch') as UsearchModule;
  return loaded;
}
