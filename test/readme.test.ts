/**
 * The README as a newcomer reads it: short, its rules table the one the rules'
 * meta make (`mntrace rules --markdown`), its test command the one CI runs,
 * and every relative link pointing at a file of the repository.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { renderRuleTable } from '../src/cli/rules';
import { ROOT } from './report-helpers';

const README = readFileSync(join(ROOT, 'README.md'), 'utf8');

describe('README', () => {
  it('is under 200 lines', () => {
    assert.ok(README.split('\n').length < 200, `README.md has ${README.split('\n').length} lines; move details to docs/`);
  });

  it('its rules table is the one made from the rules\' meta', () => {
    const table = renderRuleTable();
    assert.ok(README.includes(table), `README.md's rules table differs from the rules' meta; replace it with the output of \`mntrace rules --markdown\`:\n${table}`);
  });

  it('gives the two set-up commands, and CI runs its test command', () => {
    assert.match(README, /\n```sh\nnpm ci && npx mntrace check fixtures\/real\/\S+\n```\n/);
    assert.match(README, /\n```sh\nnpm test\n```\n/);
    assert.match(readFileSync(join(ROOT, '.ci', 'run'), 'utf8'), /\nnpm test\n/);
    const [, first] = /npm ci && npx mntrace check (fixtures\/real\/\S+)/.exec(README)!;
    assert.ok(existsSync(join(ROOT, first!)), `${first} does not exist`);
  });

  it('every relative link of the README, CONTRIBUTING.md and docs/ resolves', () => {
    for (const doc of ['README.md', 'CONTRIBUTING.md', 'docs/ci.md', 'docs/capture.md', 'docs/formats.md', 'docs/output.md', 'docs/performance.md']) {
      const text = readFileSync(join(ROOT, doc), 'utf8');
      for (const m of text.matchAll(/\]\(([^)#\s]+)(#[^)]*)?\)/g)) {
        const target = m[1]!;
        if (/^[a-z]+:/.test(target)) continue;
        assert.ok(existsSync(join(ROOT, dirname(doc), target)), `${doc}: link to ${target} resolves to nothing`);
      }
    }
  });
});
