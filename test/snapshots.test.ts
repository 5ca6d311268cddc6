/**
 * The safety net for hot-path work: every trace fixture of the repo and every
 * real capture in ../shared (those present) is analysed on one thread and
 * through the scan worker (forced on these small files, with small chunks so
 * lines straddle chunk boundaries), and each result must equal the snapshot
 * recorded in fixtures/snapshots/: the findings (rule, severity, confidence,
 * message, evidence lines and text, fingerprint), every summary count, the
 * subscribers, per-CPU coverage, loss windows and latencies, or the
 * input error an input gives.
 *
 * After a reviewed change of verdicts or counts, re-record them all with one
 * command: `npm run snapshots` (MNTRACE_RECORD_SNAPSHOTS=1).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { analyzeTrace, type AnalysisResult, type AnalyzeOptions } from '../src/analyze';

const ROOT = join(__dirname, '..', '..');
const SHARED = join(ROOT, '..', 'shared');
const SNAPSHOTS = join(ROOT, 'fixtures', 'snapshots');
const RECORD = process.env.MNTRACE_RECORD_SNAPSHOTS === '1';

/** Files under fixtures/ that are documentation, expectations or side inputs, not traces. */
const NOT_TRACES = /(^|\/)(README\.md|MANIFEST\.md|SLICES\.md|expected\.json|kprobe_events[^/]*)$|^fixtures\/(snapshots|real\/btf)\//;

function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...filesUnder(p));
    else out.push(p);
  }
  return out;
}

/** Every input: the repo's trace fixtures, then ../shared's real captures (its `bin`, `btf` and `meta` side files left out). */
function inputs(): Array<{ name: string; path: string }> {
  const repo = filesUnder(join(ROOT, 'fixtures')).map((p) => relative(ROOT, p)).filter((r) => !NOT_TRACES.test(r));
  const shared = [join(SHARED, 'traces', 'real'), join(SHARED, 'traces', 'real-bugs')]
    .flatMap((d) => (existsSync(d) ? readdirSync(d).sort().map((n) => join(d, n)) : []))
    .filter((p) => statSync(p).isFile() && /\.txt(\.gz)?$/.test(p) && !/kprobe_events/.test(p));
  return [
    ...repo.map((r) => ({ name: r, path: join(ROOT, r) })),
    ...shared.map((p) => ({ name: `shared/${relative(SHARED, p)}`, path: p })),
  ];
}

/** A file name for an input's snapshot. */
function snapshotFile(name: string): string {
  return join(SNAPSHOTS, `${name.replace(/[/\\]/g, '__')}.json`);
}

/** What must not change: everything the analysis concludes, with the checkout's directory left out. */
function summarise(r: AnalysisResult): unknown {
  const { path: _path, ...input } = r.input;
  return {
    input,
    counts: r.counts,
    subscribers: r.subscribers,
    cpus: r.cpus.map((c) => ({ cpu: c.cpu, machine: c.machine, first: c.first?.raw, last: c.last?.raw, events: c.events, lostMarkers: c.lostMarkers, lostEvents: c.lostEvents })),
    losses: r.losses.map((l) => ({ cpu: l.cpu, machine: l.machine, from: l.from?.raw, to: l.to?.raw, count: l.count })),
    latency: r.latency,
    unreadable: r.unreadable.map((u) => `${u.src.line}: ${u.reason}`),
    findings: r.findings.map((f) => ({
      rule: f.ruleId,
      severity: f.severity,
      confidence: f.confidence,
      message: f.message,
      pid: f.pid,
      comm: f.comm,
      cpu: f.cpu,
      timestamp: f.timestamp,
      evidence: f.evidence.map((e) => `${e.line}${e.role ? ` ${e.role}` : ''}: ${e.text ?? ''}`),
      fingerprint: f.fingerprint,
      ...(f.repeats ? { repeats: `${f.repeats.count}, last at line ${f.repeats.last.line} (${f.repeats.last.timestamp})` } : {}),
    })),
    unlisted: r.unlistedFindings,
  };
}

async function snapshotOf(path: string, opts: AnalyzeOptions): Promise<unknown> {
  let out: unknown;
  try {
    out = summarise(await analyzeTrace(path, opts));
  } catch (err) {
    out = { error: (err as Error).message };
  }
  // Paths in messages and evidence: relative to the checkout (and to ../shared), so snapshots do not depend on where it is.
  return JSON.parse(JSON.stringify(out).split(ROOT + '/').join('').split(SHARED + '/').join('shared/'));
}

const ONE_THREAD: AnalyzeOptions = { threads: 1 };
/** The scan worker on every file, with chunks small enough that many lines cross a chunk boundary. */
const WORKER: AnalyzeOptions = { threads: 2, parallel: { minBytes: 0, chunkBytes: 64 << 10 } };

describe('snapshots: findings and counts on every fixture and real capture, with and without the scan worker', () => {
  const all = inputs();
  it('finds the inputs', () => {
    assert.ok(all.length >= 80, `${all.length} inputs`);
    assert.ok(all.some((i) => i.name === 'fixtures/real/reclaim.trace.txt.gz'));
  });
  for (const { name, path } of all) {
    it(name, async () => {
      const one = await snapshotOf(path, ONE_THREAD);
      const file = snapshotFile(name);
      if (RECORD) {
        mkdirSync(SNAPSHOTS, { recursive: true });
        writeFileSync(file, JSON.stringify(one, null, 1) + '\n');
      }
      assert.ok(existsSync(file), `no snapshot for ${name}: record with npm run snapshots`);
      const want = JSON.parse(readFileSync(file, 'utf8')) as unknown;
      assert.deepStrictEqual(one, want, `${name}, --threads 1`);
      assert.deepStrictEqual(await snapshotOf(path, WORKER), want, `${name}, scan worker`);
    });
  }
});
