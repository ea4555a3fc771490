/**
 * onnxruntime's telemetry stays off: a session created through facectl's runtime leaves nothing in
 * ~/.cache/Microsoft/DeveloperTools (a device id and an event queue otherwise). The control run, with
 * the user's explicit ORT_DISABLE_TELEMETRY=0, proves the check looks where onnxruntime writes.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildToyEmbedderOnnx } from '../../src/models/onnx/toy-embedder.js';
import { repoRoot } from '../helpers/shared.js';

const dir = mkdtempSync(path.join(tmpdir(), 'facectl-telemetry-'));
const model = path.join(dir, 'toy.onnx');
writeFileSync(model, buildToyEmbedderOnnx());
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The variables onnxruntime 1.30 reads to tell a CI runner (strings in libonnxruntime.so), plus CI. */
const CI_MARKERS = ['CI', 'ORT_RUNNING_UNIT_TESTS', 'TF_BUILD', 'GITHUB_ACTIONS', 'GITLAB_CI', 'CIRCLECI', 'TRAVIS', 'JENKINS_URL', 'CODEBUILD_BUILD_ID', 'BUILDKITE', 'TEAMCITY_VERSION', 'APPVEYOR', 'BITBUCKET_BUILD_NUMBER'];

/** Creates one session through src/pipeline/runtime.ts in a child with its own HOME; returns that HOME. */
function sessionInFreshHome(name: string, env: NodeJS.ProcessEnv): string {
  const home = path.join(dir, name);
  const script = `import { getSession } from ${JSON.stringify(path.join(repoRoot, 'src/pipeline/runtime.ts'))}; await getSession(${JSON.stringify(model)}); console.log('session');`;
  const childEnv: NodeJS.ProcessEnv = { ...process.env, HOME: home };
  delete childEnv.XDG_CACHE_HOME;
  delete childEnv.ORT_DISABLE_TELEMETRY;
  // onnxruntime also stays silent when it sees a CI runner (CI=true and the like): clear those, so
  // the first test proves ORT_DISABLE_TELEMETRY does the work and the control runs anywhere.
  for (const marker of CI_MARKERS) delete childEnv[marker];
  Object.assign(childEnv, env);
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: repoRoot, env: childEnv, encoding: 'utf8', timeout: 60_000 });
  expect(r.stdout, r.stderr).toContain('session');
  return home;
}

const telemetryDir = (home: string) => path.join(home, '.cache', 'Microsoft', 'DeveloperTools');

describe('onnxruntime telemetry', () => {
  it('writes no device id or event queue when facectl creates a session', () => {
    expect(existsSync(telemetryDir(sessionInFreshHome('default', {})))).toBe(false);
  });

  it('control: with ORT_DISABLE_TELEMETRY=0 set by the user, onnxruntime writes them there', () => {
    expect(existsSync(path.join(telemetryDir(sessionInFreshHome('opted-in', { ORT_DISABLE_TELEMETRY: '0' })), '.onnxruntime', 'deviceid'))).toBe(true);
  });
});
