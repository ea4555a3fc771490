/**
 * A font for chart text on any machine. @napi-rs/canvas draws text only with fonts it knows:
 * the system's (found through fontconfig paths) or ones registered by path. A bare container
 * may have none, and then every title, label and legend silently disappears.
 *
 * Order: FACECTL_CHART_FONT (a .ttf/.otf/.woff/.woff2 path), then a common system sans
 * family, then DejaVu Sans shipped in the package's assets/fonts (copied from the devDependency
 * dejavu-fonts-ttf by `npm pack`), then a font file inside an installed npm package (see
 * BUNDLED_FONT_FILES), registered under the alias below.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { GlobalFonts } from '@napi-rs/canvas';
import { printable, quoted } from '../errors.js';
import { packageRoot } from '../package-root.js';

export const BUNDLED_FONT_ALIAS = 'Facectl Chart Sans';

const SYSTEM_FAMILIES = ['DejaVu Sans', 'Liberation Sans', 'Arial', 'Helvetica', 'Noto Sans', 'Open Sans', 'Roboto', 'Lato'];

/**
 * Font files inside npm packages, relative to a node_modules folder, best first. The first two
 * belong to dedicated font packages that are not dependencies today (used if ever added); the
 * others ship with packages installed anyway.
 */
export const BUNDLED_FONT_FILES = [
  'dejavu-fonts-ttf/ttf/DejaVuSans.ttf',
  '@fontsource/open-sans/files/open-sans-latin-400-normal.woff2',
  '@vladmandic/human/assets/lato-light.woff2',
  'protobufjs/cli/node_modules/jsdoc/templates/default/static/fonts/OpenSans-Regular-webfont.woff',
];

export interface ChartFont {
  /** CSS family list for chart.js (the chosen family first, generic fallback last). */
  family: string;
  source: 'env' | 'system' | 'bundled' | 'none';
  file?: string;
}

/** node_modules folders visible from this module, nearest first. */
function nodeModulesDirs(): string[] {
  const require = createRequire(import.meta.url);
  return require.resolve.paths('chart.js') ?? [];
}

/** The font `npm pack` ships (scripts/prepack.ts), with its bold face beside it. */
export const SHIPPED_FONT = 'assets/fonts/DejaVuSans.ttf';

/** The first bundled font file that exists, or null. */
export function findBundledFont(): string | null {
  const shipped = path.join(packageRoot(), SHIPPED_FONT);
  if (existsSync(shipped)) return shipped;
  for (const dir of nodeModulesDirs()) {
    for (const rel of BUNDLED_FONT_FILES) {
      const file = path.join(dir, rel);
      if (existsSync(file)) return file;
    }
  }
  return null;
}

let chosen: ChartFont | null = null;

/**
 * Pick (once per process) the font charts use; `preferBundled` skips the system fonts
 * (used by the tests to prove text renders on a machine without any).
 */
export function ensureChartFont(options: { preferBundled?: boolean; env?: NodeJS.ProcessEnv } = {}): ChartFont {
  if (chosen && !options.preferBundled && !options.env) return chosen;
  const env = options.env ?? process.env;
  const register = (file: string, source: ChartFont['source']): ChartFont | null => {
    if (!GlobalFonts.registerFromPath(file, BUNDLED_FONT_ALIAS)) return null;
    const bold = file.replace(/\.ttf$/, '-Bold.ttf'); // titles are bold; without the face they would be faked
    if (bold !== file && existsSync(bold)) GlobalFonts.registerFromPath(bold, BUNDLED_FONT_ALIAS);
    return { family: `"${BUNDLED_FONT_ALIAS}", sans-serif`, source, file };
  };

  let font: ChartFont | null = null;
  const asked = env.FACECTL_CHART_FONT;
  const askedExists = !!asked && existsSync(asked);
  if (askedExists) font = register(asked, 'env');
  if (!font && !options.preferBundled) {
    const known = new Set(GlobalFonts.families.map((f) => f.family));
    const system = SYSTEM_FAMILIES.find((f) => known.has(f));
    if (system) font = { family: `"${system}", sans-serif`, source: 'system' };
  }
  if (!font) {
    const file = findBundledFont();
    if (file) font = register(file, 'bundled');
  }
  chosen = font ?? { family: 'sans-serif', source: 'none' };
  // The user asked for a font and gets another: say so once (a typo would otherwise go unnoticed in every chart).
  if (asked && chosen.source !== 'env')
    process.stderr.write(`warning: FACECTL_CHART_FONT ${quoted(asked)} not used (${askedExists ? 'not a font file the chart renderer reads' : 'no such file'}); charts use ${chosen.file ? printable(chosen.file) : chosen.family}\n`);
  return chosen;
}
