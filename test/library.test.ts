/**
 * The package as a library (`require('mntrace')`, package.json `main`):
 * analyse a real capture, build the CLI's report and render it as JSON
 * that validates against the published schema.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Ajv from 'ajv';

const ROOT = join(__dirname, '..', '..');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const lib = require(ROOT) as typeof import('../src/index');

describe('library entry point', () => {
  it('package.json main and types name built files', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
    assert.equal(require.resolve(ROOT), join(ROOT, pkg.main));
    assert.ok(readFileSync(join(ROOT, pkg.types), 'utf8').includes('analyzeTrace'));
  });

  it('analyzeTrace -> buildReport -> renderJson on the OOM capture', async () => {
    const result = await lib.analyzeTrace(join(ROOT, 'fixtures', 'real', 'oom_reaper.trace.txt.gz'));
    assert.equal(result.counts.paired, 173);
    assert.equal(result.counts.nonBlockingStarts, 10);
    assert.deepEqual(result.findings, []);
    const report = lib.buildReport([lib.inputFromResult(result)], result.findings, 'error');
    const json = JSON.parse(lib.renderJson(report)) as { summary: { ranges: { paired: number } } };
    const schema = JSON.parse(readFileSync(join(ROOT, 'schemas', 'report.schema.json'), 'utf8'));
    const validate = new Ajv({ allErrors: true }).compile(schema);
    assert.ok(validate(json), JSON.stringify(validate.errors));
    assert.equal(json.summary.ranges.paired, 173);
  });

  it('exports every rule with its kernel rationale', () => {
    assert.ok(lib.rules.length >= 7);
    for (const r of lib.rules) {
      assert.equal(lib.ruleById(r.meta.id), r);
      assert.ok(r.meta.docs.rationale.length > 40, r.meta.id);
    }
  });
});
