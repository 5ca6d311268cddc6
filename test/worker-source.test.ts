/**
 * The scan worker (src/io/scan-worker.ts) must change nothing but speed: the
 * same records, counts, coverage and findings as reading on one thread, for
 * every kind of input, at any chunk size, whichever thread scans a line.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { analyzeTrace, type AnalyzeOptions } from '../src/analyze';
import { Engine } from '../src/engine/engine';
import { readTrace } from '../src/io/read-trace';
import { InputError } from '../src/io/source';
import type { TraceRecord } from '../src/model/event';
import { Semantics } from '../src/semantics';
import { rules } from '../rules';
import { FIX } from './parse-helpers';

const realGz = readdirSync(join(FIX, 'real')).filter((f) => f.endsWith('.gz')).map((f) => join(FIX, 'real', f));
const ftraceFixtures = readdirSync(join(FIX, 'ftrace')).filter((f) => f.endsWith('.txt')).map((f) => join(FIX, 'ftrace', f));
const compressed = ['gz', 'zst', 'xz'].map((ext) => join(FIX, 'compressed', `baseline.trace.lines-25911-26110.txt.${ext}`));
const otherFormats = [
  join(FIX, 'real', 'baseline.trace-cmd-report.lines-24861-25160.txt'),
  join(FIX, 'real', 'baseline.perf-script.lines-25311-25610.txt'),
];
const cases = readdirSync(join(FIX, 'cases'), { withFileTypes: true })
  .filter((d) => d.isDirectory())
  .flatMap((d) => readdirSync(join(FIX, 'cases', d.name)).filter((f) => f.startsWith('trace')).map((f) => join(FIX, 'cases', d.name, f)));

async function both(path: string, parallel: NonNullable<AnalyzeOptions['parallel']>, opts: AnalyzeOptions = {}) {
  const one = await analyzeTrace(path, { ...opts, threads: 1 });
  const two = await analyzeTrace(path, { ...opts, threads: 2, parallel: { minBytes: 0, ...parallel } });
  return { one, two };
}

/** Everything a record says, as plain data (events parse their fields lazily). */
function plain(r: TraceRecord): unknown {
  if (r.kind !== 'event') return r;
  return { ...r, fields: { ...r.fields } };
}

async function records(path: string, parallel: boolean, chunkBytes?: number, share?: number) {
  const semantics = new Semantics();
  const engine = new Engine({ semantics, likelyAfterNs: 1e9 });
  // The events every rule asks for, as in check.
  for (const rule of rules) for (const role of rule.meta.operations ?? []) engine.neededRoles.add(role);
  const out: unknown[] = [];
  const res = await readTrace(path, (r) => out.push(plain(r)), {
    filter: engine.filter,
    ...(parallel ? { parallel: { spec: { semantics: {}, roles: [...engine.neededRoles] }, minBytes: 0, chunkBytes, share } } : {}),
  });
  return { out, res };
}

describe('scan worker: same results as one thread', () => {
  test('the worker is used when asked, and hands over the same records (skipped events included, via the engine filter)', async () => {
    const path = join(FIX, 'real', 'baseline.trace.txt.gz');
    const one = await records(path, false);
    const two = await records(path, true, 1 << 16, 3);
    assert.equal(one.res.source.parallel, undefined);
    assert.equal(two.res.source.parallel, true);
    // 3 of every 8 lines were the worker's to scan: the tlb_flush and sched events among them came back as numbers.
    assert.ok((two.res.source.skippedByWorker ?? 0) > 10, `skipped by worker: ${two.res.source.skippedByWorker}`);
    assert.ok(one.out.length > 1000);
    assert.deepEqual(two.out, one.out);
    assert.deepEqual(two.res.info, one.res.info);
    assert.equal(two.res.source.bytesRead, one.res.source.bytesRead);
  });

  for (const path of realGz) {
    test(`real capture ${path.slice(FIX.length + 1)}: identical analysis (1 MiB chunks, worker scanning all lines, then 5 of 8)`, async () => {
      const { one, two } = await both(path, { chunkBytes: 1 << 20 });
      assert.ok(one.counts.paired > 0);
      assert.deepEqual(two, one);
      const mixed = await analyzeTrace(path, { threads: 2, parallel: { minBytes: 0, chunkBytes: 1 << 20, share: 5 } });
      assert.deepEqual(mixed, one);
      // Every record the parser emits, field by field (the analysis above shows only what the rules made of them).
      const single = await records(path, false);
      for (const share of [8, 5]) {
        const scanned = await records(path, true, 1 << 20, share);
        assert.equal(scanned.out.length, single.out.length);
        assert.deepEqual(scanned.out, single.out);
      }
    });
  }

  for (const path of [...ftraceFixtures, ...compressed, ...otherFormats, ...cases]) {
    test(`${path.slice(FIX.length + 1)}: identical analysis with 4 KiB chunks`, async () => {
      const { one, two } = await both(path, { chunkBytes: 4096, share: 6 });
      assert.deepEqual(two, one);
    });
  }

  test('lines longer than a chunk: the chunk grows', async () => {
    const path = join(FIX, 'real', 'baseline.trace.lines-25911-26110.txt');
    const { one, two } = await both(path, { chunkBytes: 64 });
    assert.deepEqual(two, one);
  });

  test('a format named with --input-format, and a file that is not ftrace', async () => {
    const path = join(FIX, 'real', 'baseline.trace.lines-25911-26110.txt');
    const forced = await both(path, { chunkBytes: 4096 }, { inputFormat: 'ftrace' });
    assert.deepEqual(forced.two, forced.one);
    const tc = await both(otherFormats[0], { chunkBytes: 4096 }, { inputFormat: 'trace-cmd' });
    assert.deepEqual(tc.two, tc.one);
    assert.ok(tc.one.counts.paired > 0);
  });

  test('a cut-off gzip file: the lines before the damage are analysed, and the input says why it stops there (both threads alike)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mntrace-worker-'));
    try {
      const text = readFileSync(join(FIX, 'real', 'baseline.trace.lines-25911-26110.txt'));
      const gz = gzipSync(Buffer.concat([text, text, text]));
      const cut = join(dir, 'cut.txt.gz');
      writeFileSync(cut, gz.subarray(0, Math.floor(gz.length * 0.6)));
      const [one, two] = await Promise.all([1, 2].map((threads) => analyzeTrace(cut, { threads, parallel: { minBytes: 0, chunkBytes: 4096 } })));
      assert.match(one.input.damaged ?? '', /compressed data is corrupt or cut off after \d+ lines/);
      assert.equal(two.input.damaged, one.input.damaged);
      assert.ok(one.input.events > 200 && one.counts.paired > 0, `${one.input.events} events, ${one.counts.paired} paired`);
      assert.deepEqual(two.findings, one.findings);
      assert.deepEqual(two.counts, one.counts);
      // The reader itself still rejects: only the analysis keeps what came before the damage.
      await assert.rejects(readTrace(cut, () => {}), (err: Error) => err instanceof InputError && /corrupt or cut off/.test(err.message));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
