/**
 * The npm package as a user gets it: `npm pack` lists only what a user needs
 * (compiled library and CLI, schemas, docs, LICENSE; no compiled tests, bench
 * or source maps without their sources), and the tarball installed into an
 * empty prefix runs `mntrace check` from outside the checkout without building.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from './report-helpers';

const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

function sh(cmd: string, args: string[], cwd: string) {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', env: { ...process.env, npm_config_audit: 'false', npm_config_fund: 'false', npm_config_update_notifier: 'false' } });
  if (r.error) throw r.error;
  return r;
}

describe('npm package', () => {
  let tmp = '';
  let files: string[] = [];
  let tarball = '';
  before(() => {
    tmp = mkdtempSync(join(tmpdir(), 'mntrace-pack-'));
    // `npm test` has just compiled dist/; --ignore-scripts packs it as it is (npm pack alone runs `prepare`, the same build).
    const r = sh(npm, ['pack', '--json', '--ignore-scripts', '--pack-destination', tmp], ROOT);
    assert.equal(r.status, 0, r.stderr);
    const [info] = JSON.parse(r.stdout) as Array<{ filename: string; files: Array<{ path: string }> }>;
    tarball = join(tmp, info!.filename);
    files = info!.files.map((f) => f.path);
  });
  after(() => { if (tmp) rmSync(tmp, { recursive: true, force: true }); });

  it('holds the CLI, the compiled library with its types, schemas, docs and LICENSE, and nothing else', () => {
    for (const need of ['LICENSE', 'README.md', 'package.json', 'bin/mntrace.js', 'dist/src/cli/main.js', 'dist/src/index.js', 'dist/src/index.d.ts', 'dist/schemas/expected.schema.json', 'schemas/report.schema.json', 'docs/ci.md']) {
      assert.ok(files.includes(need), `${need} missing from the tarball`);
    }
    const extra = files.filter((f) => /^dist\/(test|bench)\//.test(f) || f.endsWith('.map') || /(^|\/)(test|fixtures|bench)\//.test(f) || (f.endsWith('.ts') && !f.endsWith('.d.ts')));
    assert.deepEqual(extra, [], 'compiled tests, bench, fixtures, TypeScript sources or source maps in the tarball');
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as Record<string, unknown>;
    for (const k of ['license', 'repository', 'homepage', 'bugs']) assert.ok(pkg[k], `package.json has no ${k}`);
    assert.match(readFileSync(join(ROOT, 'LICENSE'), 'utf8'), /^MIT License\n\nCopyright \(c\) \d{4} the mntrace authors\n/);
  });

  it('installs into an empty prefix without a build and checks a capture from outside the checkout', { timeout: 300_000 }, () => {
    const prefix = join(tmp, 'prefix');
    // Dependencies come from the registry (or npm's cache); typescript is a dev dependency, so a build at install would fail here.
    const inst = sh(npm, ['install', '--prefer-offline', '--omit=dev', '--prefix', prefix, tarball], tmp);
    assert.equal(inst.status, 0, `npm install of the tarball failed:\n${inst.stdout}${inst.stderr}`);
    const capture = join(tmp, 'oom_reaper.trace.txt.gz');
    copyFileSync(join(ROOT, 'fixtures', 'real', 'oom_reaper.trace.txt.gz'), capture);
    const bin = join(prefix, 'node_modules', '.bin', 'mntrace');
    const r = sh(bin, ['check', '--format', 'json', 'oom_reaper.trace.txt.gz'], tmp);
    assert.equal(r.status, 0, r.stderr);
    const report = JSON.parse(r.stdout) as { $schema: string; inputs: Array<{ events: number; ranges: { paired: number } }> };
    assert.equal(report.$schema, 'https://mntrace.dev/schemas/report.schema.json');
    assert.equal(report.inputs[0]!.events, 12452);
    assert.equal(report.inputs[0]!.ranges.paired, 173);
  });
});
