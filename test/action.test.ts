/**
 * The GitHub Action (action.yml): its run step's script, taken from the file
 * as the runner would run it, with the environment its `env:` block gives,
 * on fixtures: check writes SARIF and fails on findings, verify compares
 * fixtures, a wrong command is a usage error.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from './report-helpers';

const ACTION = readFileSync(join(ROOT, 'action.yml'), 'utf8');

/** The step with this id: its `env:` names and its `run: |` block, unindented (action.yml is kept in this block style). */
function step(id: string): { env: string[]; run: string } {
  const lines = ACTION.split('\n');
  const start = lines.findIndex((l) => l.trim() === `id: ${id}`);
  assert.ok(start > 0, `no step with id ${id} in action.yml`);
  const indent = lines[start]!.search(/\S/);
  const end = lines.findIndex((l, i) => i > start && /^\s*- /.test(l) && l.search(/\S/) < indent);
  const body = lines.slice(start, end < 0 ? undefined : end);
  const envAt = body.findIndex((l) => l.trim() === 'env:');
  const env: string[] = [];
  for (let i = envAt + 1; envAt >= 0 && i < body.length && body[i]!.search(/\S/) > indent; i++) env.push(body[i]!.trim().split(':')[0]!);
  const runAt = body.findIndex((l) => l.trim() === 'run: |');
  assert.ok(runAt >= 0, 'the run step is a `run: |` block');
  const block = body.slice(runAt + 1);
  const cut = block.findIndex((l) => l.trim() !== '' && l.search(/\S/) <= indent);
  const runLines = block.slice(0, cut < 0 ? undefined : cut);
  const pad = Math.min(...runLines.filter((l) => l.trim()).map((l) => l.search(/\S/)));
  return { env, run: runLines.map((l) => l.slice(pad)).join('\n') };
}

describe('GitHub Action (action.yml)', () => {
  const { env, run } = step('mntrace');
  let tmp = '';
  before(() => { tmp = mkdtempSync(join(tmpdir(), 'mntrace-action-')); });
  after(() => { if (tmp) rmSync(tmp, { recursive: true, force: true }); });

  /** Run the step's script from the repository root as the runner does (the inputs in the environment). */
  function runStep(inputs: { command: string; paths: string; args?: string; sarif?: string }) {
    const vars: Record<string, string> = {
      MNTRACE: join(ROOT, 'bin', 'mntrace.js'),
      MNTRACE_COMMAND: inputs.command,
      MNTRACE_PATHS: inputs.paths,
      MNTRACE_ARGS: inputs.args ?? '',
      MNTRACE_SARIF: inputs.sarif ?? join(tmp, 'mntrace.sarif'),
      GITHUB_OUTPUT: join(tmp, 'output'),
    };
    for (const name of Object.keys(vars)) if (name !== 'GITHUB_OUTPUT') assert.ok(env.includes(name), `action.yml's run step does not set ${name}`);
    for (const used of run.matchAll(/\$\{?(MNTRACE\w*)/g)) assert.ok(env.includes(used[1]!), `the script reads ${used[1]} that the step's env does not set`);
    rmSync(vars.GITHUB_OUTPUT!, { force: true });
    const r = spawnSync('bash', ['-c', run], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, ...vars, NO_COLOR: '1' } });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr, output: existsSync(vars.GITHUB_OUTPUT!) ? readFileSync(vars.GITHUB_OUTPUT!, 'utf8') : '' };
  }

  it('check: expands the globs, writes SARIF with the findings, exits 1 on an error finding', () => {
    const sarif = join(tmp, 'check.sarif');
    const r = runStep({ command: 'check', paths: 'fixtures/cases/failed-blockable-start/*.txt\nfixtures/real/oom_reaper.trace.txt.gz', args: '--fail-on error', sarif });
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /2 input\(s\).* 3 error \/ 0 warning \/ 1 info findings/);
    assert.equal(r.output, `sarif=${sarif}\n`);
    const log = JSON.parse(readFileSync(sarif, 'utf8')) as { version: string; runs: Array<{ results: Array<{ ruleId: string }> }> };
    assert.equal(log.version, '2.1.0');
    assert.ok(log.runs[0]!.results.some((x) => x.ruleId === 'failed-blockable-start'));
  });

  it('check: the options of `args` apply (--fail-on never exits 0 with the same findings)', () => {
    const r = runStep({ command: 'check', paths: 'fixtures/cases/failed-blockable-start/trace.txt', args: '--fail-on never' });
    assert.equal(r.code, 0, r.stderr);
  });

  it('verify: the recorded fixtures match their expected.json', () => {
    const r = runStep({ command: 'verify', paths: 'fixtures/cases/failed-blockable-start fixtures/cases/missing-end', args: '-q' });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.equal(r.output, 'sarif=\n');
  });

  it('another command is a usage error (exit 2)', () => {
    const r = runStep({ command: 'probes', paths: 'x' });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /command must be check or verify/);
  });

  it('the script passes shellcheck', (t) => {
    if (spawnSync('shellcheck', ['--version']).status !== 0) return t.skip('shellcheck is not installed (.ci/run installs it; or apt-get install -y shellcheck)');
    const r = spawnSync('shellcheck', ['--shell=bash', '-'], { input: run, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stdout + r.stderr);
  });
});
