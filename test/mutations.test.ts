/**
 * Damaged real lines, read every way mntrace reads them. Slices of the real
 * captures are damaged at random (a fixed seed: the same cases every run):
 * lines cut (anywhere, or at a column boundary), dropped, repeated, swapped; bytes inserted or removed; pointers,
 * flags columns, CPU numbers and timestamps rewritten. For each case:
 * - the ftrace parser's byte lane (used with an event filter) gives exactly
 *   the records of its text lane;
 * - the whole analysis gives the same result on one thread as with the scan
 *   worker, at small chunk sizes and whichever thread scans a line;
 * - and nothing throws.
 * (A case like these found the fast lane reading a probe site cut before its
 * `)` as the whole site of an earlier line.) MUTATION_CASES=1000 npm test runs
 * more cases than the 40 of CI.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { analyzeTrace, type AnalysisResult } from '../src/analyze';
import { FtraceParser } from '../parsers/ftrace';
import type { TraceRecord } from '../src/model/event';
import { FIX } from './parse-helpers';

const CAPTURES = [
  'baseline.trace.txt.gz', 'baseline.stacktrace.trace.txt.gz', 'oom_reaper.trace.txt.gz', 'process_mrelease.trace.txt.gz', 'compaction.trace.txt.gz',
  // Other formats go to the main thread as plain lines: the scan worker must not change their results either.
  'baseline.trace-cmd-report.lines-24861-25160.txt', 'baseline.perf-script.lines-25311-25610.txt',
];
const CASES = Number(process.env.MUTATION_CASES ?? 40);

/** A small deterministic PRNG (LCG), so a failing case can be replayed from its number. */
function prng(seed: number): (n: number) => number {
  let s = seed;
  return (n) => {
    s = (Math.imul(s, 1103515245) + 12345) & 0x7fffffff;
    return Math.floor((s / 0x80000000) * n);
  };
}

const INSERTS = ['\u0000', '#', ' => ', 'CPU:1 [LOST 5 EVENTS]', ' <stack trace>', ' ', '=', '0x', '-', ':', '(', ')', '\r', 'é', '[000]', ' range=0x1', ' flags=0', ' ret=-11', '  ', ' mn=0x0', '(__mmu_notifier_invalidate_range_start+0x0/0x190)'];

function damage(lines: string[], r: (n: number) => number): string[] {
  const out = [...lines];
  const edits = 1 + r(30);
  for (let j = 0; j < edits; j++) {
    const l = r(out.length);
    const s = out[l] ?? '';
    switch (r(9)) {
      case 0: out.splice(l, 1); break;
      case 1: out.splice(l, 0, out[r(out.length)]); break;
      case 2: { const p = r(s.length + 1); out[l] = s.slice(0, p) + INSERTS[r(INSERTS.length)] + s.slice(p); break; }
      case 3: { const p = r(s.length + 1); out[l] = s.slice(0, p) + s.slice(p + 1 + r(6)); break; }
      case 4: out[l] = s.slice(0, r(s.length + 1)); break;
      case 5: out[l] = s.replace(/0x[0-9a-f]+/, ['0x0', '18446744073709551615', '0X1F', '0x0001', '12'][r(5)]); break;
      case 6: out[l] = s.replace(/\] \S+ /, ['] d.h1. ', '] .N.s2 ', '] ...... ', '] X ', ']  '][r(5)]); break;
      case 7: {
        // Cut a kprobe line (when one of a few tries finds one) just before or after a column boundary, where a lane's bounds checks are.
        let k = l;
        for (let t = 0; t < 8 && !/\+0x[0-9a-f]+\/0x/.test(out[k] ?? ''); t++) k = r(out.length);
        const line = out[k] ?? '';
        const mark = ')]=:( '[r(6)];
        const at = [...line].flatMap((c, x) => (c === mark ? [x] : []));
        if (at.length) out[k] = line.slice(0, at[r(at.length)] + r(2));
        break;
      }
      default: { const m = r(out.length); [out[l], out[m]] = [out[m], out[l]]; }
    }
  }
  return out;
}

/** The records of one parser lane, as plain data. */
function parse(text: Buffer, bytes: boolean): unknown[] {
  const records: TraceRecord[] = [];
  const p = new FtraceParser({ file: 't', sink: (rec) => records.push(rec), filter: bytes ? { wants: () => true, skipped: () => assert.fail('nothing is filtered out') } : undefined });
  let from = 0;
  let lineNo = 0;
  while (from < text.length) {
    let nl = text.indexOf(10, from);
    const terminated = nl >= 0;
    if (!terminated) nl = text.length;
    const end = nl > from && text[nl - 1] === 13 ? nl - 1 : nl;
    lineNo++;
    if (terminated) p.pushBytes(text, from, end, lineNo);
    else p.push(text.toString('utf8', from, end), lineNo, false);
    from = nl + 1;
  }
  p.end();
  return JSON.parse(JSON.stringify(records.map((rec) => (rec.kind === 'event' ? { ...rec, fields: { ...rec.fields } } : rec))));
}

/** An analysis as plain data, without the one field that says which way it was read. */
function comparable(a: AnalysisResult): unknown {
  const { parallel: _parallel, ...input } = a.input as AnalysisResult['input'] & { parallel?: unknown };
  return JSON.parse(JSON.stringify({ ...a, input }));
}

describe('damaged real lines read alike by every lane', () => {
  const captures = CAPTURES.map((f) => {
    const raw = readFileSync(join(FIX, 'real', f));
    return (f.endsWith('.gz') ? gunzipSync(raw) : raw).toString('latin1').split('\n');
  });
  const dir = mkdtempSync(join(tmpdir(), 'mntrace-mutations-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  for (let i = 0; i < CASES; i++) {
    it(`case ${i}`, async () => {
      const r = prng(1000 + i);
      const lines = captures[r(captures.length)];
      const from = r(3) === 0 ? 0 : r(Math.max(1, lines.length - 3000));
      const damaged = damage(lines.slice(from, from + 200 + r(2500)), r);
      const text = Buffer.from(damaged.join('\n') + (r(2) ? '\n' : ''), 'latin1');
      assert.deepEqual(parse(text, true), parse(text, false), 'byte lane and text lane');
      const file = join(dir, `case-${i}.txt`);
      writeFileSync(file, text);
      const one = await analyzeTrace(file, { threads: 1 });
      const two = await analyzeTrace(file, { threads: 2, parallel: { minBytes: 0, chunkBytes: [512, 4096, 65536][r(3)], share: 1 + r(8) } });
      assert.deepEqual(comparable(two), comparable(one), 'one thread and the scan worker');
    });
  }
});
