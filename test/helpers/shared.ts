import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Repository root (test/helpers/ is two levels down). */
export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** The read-only data folder beside the checkout (`../shared`), or FACECTL_SHARED. */
export const sharedDir = process.env.FACECTL_SHARED ?? path.resolve(repoRoot, '../shared');
export const datasetsDir = path.join(sharedDir, 'datasets');
export const hasDatasets = existsSync(path.join(datasetsDir, 'README.md'));

/** Path to a file in ../shared/datasets. */
export const dataset = (...parts: string[]): string => path.join(datasetsDir, ...parts);

/** Message for describe.skipIf when the shared data is absent, so a skip never looks like a pass. */
export const SKIP_NO_DATA = `../shared/datasets not found at ${datasetsDir}: tests that need real photos are skipped`;
if (!hasDatasets) console.warn(`[facectl tests] ${SKIP_NO_DATA}`);
