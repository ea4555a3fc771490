import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { KERNEL_TS_PATH, KERNEL_WAT_PATH, assembleKernel, renderKernelModule } from '../../src/index/kernel-assemble.js';
import { KERNEL_WASM_BASE64 } from '../../src/index/kernel-wasm.js';

describe('embedded wasm kernel', () => {
  it('is the current assembly of kernel.wat (else run `npm run build:kernel`)', async () => {
    const bytes = await assembleKernel(readFileSync(KERNEL_WAT_PATH, 'utf8'));
    expect(Buffer.from(KERNEL_WASM_BASE64, 'base64').equals(Buffer.from(bytes))).toBe(true);
    expect(readFileSync(KERNEL_TS_PATH, 'utf8')).toBe(renderKernelModule(bytes));
  });

  it('exports the memory and the kernels', () => {
    const bytes = Buffer.from(KERNEL_WASM_BASE64, 'base64');
    const module = new (globalThis as any).WebAssembly.Module(bytes);
    const names = (globalThis as any).WebAssembly.Module.exports(module).map((e: { name: string }) => e.name);
    expect(names.sort()).toEqual(['block_scores', 'gather_scores', 'i8_scores', 'memory', 'quantize_rows', 'row_scores']);
  });
});
