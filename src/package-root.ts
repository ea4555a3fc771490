/** The facectl package root: the folder of bin/, dist/ and, in an installed package, the shipped models/. */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ExitCode, FacectlError } from './errors.js';

let root: string | undefined;

/** The nearest folder above this file whose package.json is facectl's (src/ in a checkout, dist/ once built). */
export function packageRoot(): string {
  if (root) return root;
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = path.join(dir, 'package.json');
    if (existsSync(pkg) && (JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'facectl') return (root = dir);
    const parent = path.dirname(dir);
    if (parent === dir) throw new FacectlError(ExitCode.INTERNAL, 'cannot find the facectl package root');
    dir = parent;
  }
}
