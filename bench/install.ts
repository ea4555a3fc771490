/**
 * What installing facectl costs (README: Install): `npm pack` time, tarball size, unpacked size and file
 * count, then `npm install -g --prefix <tmp>` of that tarball for a CPU machine (ONNXRUNTIME_NODE_INSTALL=skip):
 * its time, the packages added, the prefix's size and its largest dependencies. The npm cache is warm
 * after `npm ci`, so the install time is mostly unpacking and linking, not downloading.
 * Usage: npm run bench:install [-- --json]
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { copyCheckout, dirSize, installTarball, packTarball } from '../test/helpers/pack.js';

const MB = (b: number) => `${(b / 1e6).toFixed(1)} MB`;
const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

const tmp = mkdtempSync(path.join(os.tmpdir(), 'facectl-bench-install-'));
try {
  const checkout = path.join(tmp, 'checkout');
  copyCheckout(checkout);
  const pack = packTarball(checkout, tmp);
  const prefix = path.join(tmp, 'prefix');
  const install = installTarball(pack.tarball, prefix);
  const installed = path.join(prefix, 'lib', 'node_modules', 'facectl');
  const total = dirSize(prefix);
  const deps = readdirSync(path.join(installed, 'node_modules'), { withFileTypes: true })
    .filter((e) => e.isDirectory() && !e.name.startsWith('.'))
    .flatMap((e) => (e.name.startsWith('@') ? readdirSync(path.join(installed, 'node_modules', e.name)).map((n) => `${e.name}/${n}`) : [e.name]))
    .map((name) => ({ name, bytes: dirSize(path.join(installed, 'node_modules', name)).bytes }))
    .sort((a, b) => b.bytes - a.bytes);
  const models = pack.files.filter((f) => f.startsWith('models/') && f.endsWith('.onnx')).length;
  const result = {
    date: new Date().toISOString().slice(0, 10),
    node: process.version,
    packMs: Math.round(pack.ms),
    tarballBytes: pack.size,
    unpackedBytes: pack.unpackedSize,
    files: pack.entryCount,
    shippedModels: models,
    installMs: Math.round(install.ms),
    packagesAdded: install.packages,
    prefixBytes: total.bytes,
    prefixFiles: total.files,
    facectlOwnBytes: dirSize(installed).bytes - deps.reduce((a, d) => a + d.bytes, 0),
    largestDependencies: deps.slice(0, 5),
  };
  if (process.argv.includes('--json')) console.log(JSON.stringify(result, null, 2));
  else {
    console.log(`facectl install cost, ${result.date}, node ${result.node}`);
    console.log(`npm pack:        ${s(pack.ms)} (prepack converts ${models} models, prepare compiles dist/)`);
    console.log(`tarball:         ${MB(pack.size)}, ${MB(pack.unpackedSize)} unpacked, ${pack.entryCount} files`);
    console.log(`npm install -g:  ${s(install.ms)}, ${install.packages} packages (ONNXRUNTIME_NODE_INSTALL=skip, warm npm cache)`);
    console.log(`prefix:          ${MB(total.bytes)} in ${total.files} files; facectl itself ${MB(result.facectlOwnBytes)}`);
    console.log(`largest deps:    ${deps.slice(0, 5).map((d) => `${d.name} ${MB(d.bytes)}`).join(', ')}`);
  }
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
