/**
 * Assembles kernel.wat into the bytes embedded in kernel-wasm.ts.
 * Dev-time only: `wabt` is a dev dependency, imported lazily so the runtime never loads it.
 * Regenerate with `npm run build:kernel`; test/index/kernel-bytes.test.ts fails when the
 * embedded bytes no longer match the .wat.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
/** The .wat lives beside this file in src/index/ (when run from dist/index/, look in the source tree). */
const sourceDir = path.basename(path.dirname(here)) === 'dist' ? path.resolve(here, '../../src/index') : here;
export const KERNEL_WAT_PATH = path.join(sourceDir, 'kernel.wat');
export const KERNEL_TS_PATH = path.join(sourceDir, 'kernel-wasm.ts');

/** WAT text → WebAssembly binary (SIMD enabled, no debug names, so output is deterministic). */
export async function assembleKernel(watText: string): Promise<Uint8Array> {
  const wabt = (await import('wabt')).default;
  const api = await wabt();
  const mod = api.parseWat('kernel.wat', watText, { simd: true });
  try {
    mod.resolveNames();
    mod.validate();
    return mod.toBinary({ write_debug_names: false, canonicalize_lebs: true }).buffer;
  } finally {
    mod.destroy();
  }
}

/** Source text of the generated kernel-wasm.ts for these bytes. */
export function renderKernelModule(bytes: Uint8Array): string {
  const base64 = Buffer.from(bytes).toString('base64');
  const lines = base64.match(/.{1,100}/g) ?? [];
  return [
    '// GENERATED FILE: do not edit. Source: src/index/kernel.wat',
    '// Regenerate with `npm run build:kernel` (src/index/kernel-assemble.ts, wabt).',
    `// ${bytes.length} bytes of WebAssembly (SIMD), base64.`,
    'export const KERNEL_WASM_BASE64 =',
    lines.map((l) => `  '${l}'`).join(' +\n') + ';',
    '',
  ].join('\n');
}

async function main(): Promise<void> {
  const bytes = await assembleKernel(readFileSync(KERNEL_WAT_PATH, 'utf8'));
  writeFileSync(KERNEL_TS_PATH, renderKernelModule(bytes));
  console.log(`wrote ${KERNEL_TS_PATH} (${bytes.length} bytes of wasm)`);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((e: unknown) => {
    console.error(e);
    process.exit(1);
  });
}
