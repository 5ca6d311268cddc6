/**
 * A fixed-seed slice of `npm run fuzz` (bench/fuzz.ts): mutated real
 * captures, random input and damaged compressed files, through the library
 * and the CLI. Every input ends as a result (exit 0/1/2, a valid JSON report,
 * no stack trace), in time and under the RSS limit. The full run is
 * documented in README ("Speed and memory").
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { fuzz, makeInput } from '../bench/fuzz';

describe('fuzz (fixed-seed slice)', () => {
  it('inputs are reproducible from seed and index, and cover every compression', () => {
    assert.deepEqual(makeInput(5, 17).data, makeInput(5, 17).data);
    const exts = new Set(Array.from({ length: 300 }, (_, i) => makeInput(5, i).ext.replace(/^\.(txt|csv)/, '')));
    for (const e of ['', '.gz', '.xz', '.zst']) assert.ok(exts.has(e), `no ${e || 'uncompressed'} input in 300`);
  });

  it('150 inputs through the library and 10 through the CLI: no crash, hang, invalid report or RSS over the limit', async () => {
    const r = await fuzz({ seed: 3, count: 150, cliCount: 10, timeLimitMs: 10_000, from: 0 });
    assert.equal(r.library, 150);
    assert.equal(r.cli, 10);
    assert.deepEqual(r.failures.map((f) => `${f.via} ${f.index} ${f.what}: ${f.kind}: ${f.detail.slice(0, 300)}`), []);
  });
});
