/**
 * npm configuration of the repository (issue 11 item 4): no unknown project config (npm warns about
 * those on every `npx facectl`), and onnxruntime-node's install script, which fetches CUDA provider
 * files on linux/x64, is denied by package.json `allowScripts`, so `npm ci` never downloads them.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../helpers/shared.js';

const npmEnv = { ...process.env, npm_config_update_notifier: 'false' };

describe('npm configuration', () => {
  it('`npx facectl --help` in the repository prints no npm warning', () => {
    const r = spawnSync('npx', ['--no-install', 'facectl', '--help'], { cwd: repoRoot, env: npmEnv, encoding: 'utf8', timeout: 60_000 });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain('Usage: facectl');
    expect(r.stderr).not.toMatch(/npm warn/i);
  });

  it("npm skips onnxruntime-node's install script here, even when asked for CUDA files", () => {
    // The env asks the script for CUDA 12 files; a proxy on a closed port makes any attempt fail fast
    // instead of downloading. With the allowScripts denial npm never runs the script: rebuild succeeds
    // and no provider file appears. Without it the script runs and the rebuild fails.
    const env = { ...npmEnv, ONNXRUNTIME_NODE_INSTALL: 'cuda12', GLOBAL_AGENT_HTTPS_PROXY: 'http://127.0.0.1:9', GLOBAL_AGENT_HTTP_PROXY: 'http://127.0.0.1:9' };
    const r = spawnSync('npm', ['rebuild', 'onnxruntime-node', '--foreground-scripts'], { cwd: repoRoot, env, encoding: 'utf8', timeout: 120_000 });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout + r.stderr).not.toMatch(/script\/install|nuget/i);
    const bin = path.join(repoRoot, 'node_modules/onnxruntime-node/bin/napi-v6', `${process.platform}/${process.arch}`);
    expect(existsSync(path.join(bin, 'libonnxruntime_providers_cuda.so'))).toBe(false);
  });
});
