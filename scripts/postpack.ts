/**
 * `npm pack` / `npm publish` step after the tarball is made (package.json "postpack"): removes what
 * scripts/prepack.ts generated, so a checkout keeps converting models into its per-user cache and
 * never trusts a shipped copy made from older sources.
 */
import { readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { MANIFEST_FILE } from '../src/models/shipped.js';
import { packageRoot } from '../src/package-root.js';

const root = packageRoot();
const modelsDir = path.join(root, 'models');
for (const f of readdirSync(modelsDir)) {
  if (f.endsWith('.onnx') || f === MANIFEST_FILE || f === 'NOTICES.md') rmSync(path.join(modelsDir, f));
}
rmSync(path.join(root, 'assets'), { recursive: true, force: true });
