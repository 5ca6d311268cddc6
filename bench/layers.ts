/**
 * `npm run bench:layers [-- --size 256M --mix reclaim|baseline --runs 3 --keep --dir /tmp]`
 *
 * Where `check`'s time goes on one thread, layer by layer: the same
 * generated trace is read again and again, each time with one more layer of
 * the analysis on top, each run in a fresh process (so each pays its own
 * start-up and compilation, as `check` does):
 *
 *   scan     split the lines and read every event line's columns; nothing built
 *   events   + build the events the engine and the rules need (TraceEvent objects)
 *   resolve  + resolve each into an operation (semantics: role, range fields)
 *   engine   + pair ranges, track subscribers and coverage (no rules)
 *   rules    + every rule (what `check --threads 1` does, less the report)
 *
 * The difference between two rows is the cost of that layer. The mawk
 * pairing one-liner runs on the same file for scale.
 */
import { spawnSync } from 'node:child_process';
import { statSync, unlinkSync } from 'node:fs';
import { readTrace } from '../src/io/read-trace';
import { Engine } from '../src/engine/engine';
import { Semantics } from '../src/semantics';
import { rules } from '../rules';
import { ruleOptions, ruleSeverity } from '../src/config/config';
import type { EventFilter } from '../parsers/types';
import type { TraceRecord } from '../src/model/event';
import { benchCommand, benchFailed, binNodeFlags, commandPath, ensureTrace, MAWK_PAIRING, parseRuns, parseSize } from './bench';

export const LAYERS = ['scan', 'events', 'resolve', 'engine', 'rules'] as const;
export type Layer = (typeof LAYERS)[number];

export interface LayerRun {
  layer: Layer;
  /** Seconds from the start of reading to its end (no process start-up). */
  seconds: number;
  /** Event lines read only for their columns (the filter's skipped callback). */
  skipped: number;
  /** Events built in full. */
  events: number;
  /** Of those, the ones that resolved to an operation (layer resolve only). */
  operations: number;
  /** Range starts the engine saw (layers engine and rules). */
  starts: number;
  /** Findings (layer rules). */
  findings: number;
}

/** Read `file` with the analysis up to `layer`, on one thread. */
export async function runLayer(file: string, layer: Layer): Promise<LayerRun> {
  const semantics = new Semantics(undefined, {});
  const engine = new Engine({ semantics, likelyAfterNs: 1e9 });
  for (const r of rules) {
    // Below the rules layer the events the rules need are still built and resolved, as check does.
    const severity = ruleSeverity(r.meta.id, undefined);
    if (severity === undefined) continue;
    if (layer === 'rules') engine.addRule(r.meta.id, severity, ruleOptions(r.meta.id, undefined), (ctx) => r.create(ctx), r.meta);
    else for (const role of r.meta.operations ?? []) engine.neededRoles.add(role);
  }
  const run: LayerRun = { layer, seconds: 0, skipped: 0, events: 0, operations: 0, starts: 0, findings: 0 };
  const filter: EventFilter = layer === 'scan'
    ? { wants: () => false, skipped: () => { run.skipped++; } }
    : layer === 'events' || layer === 'resolve'
      ? { wants: engine.filter.wants, skipped: () => { run.skipped++; } }
      : { wants: engine.filter.wants, skipped: (...a) => { run.skipped++; engine.filter.skipped(...a); } };
  let onRecord: (r: TraceRecord) => void;
  if (layer === 'scan' || layer === 'events') onRecord = (r) => { if (r.kind === 'event') run.events++; };
  else if (layer === 'resolve') onRecord = (r) => {
    if (r.kind !== 'event') return;
    run.events++;
    if (semantics.resolve(r) !== undefined) run.operations++;
  };
  else onRecord = (r) => {
    if (r.kind === 'event') run.events++;
    engine.push(r);
  };
  const t0 = process.hrtime.bigint();
  await readTrace(file, onRecord, { filter });
  if (layer === 'engine' || layer === 'rules') engine.finish();
  run.seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  run.starts = engine.counts.starts;
  run.findings = engine.findings.length;
  return run;
}

async function main(): Promise<void> {
  const cmd = benchCommand('bench:layers', "Time check's layers one on top of the other (one thread) on a generated trace, with the mawk one-liner for scale.", '256M')
    .option('--layer <layer>', `(internal) run one layer on the file given and print its result as JSON (${LAYERS.join(', ')})`)
    .argument('[file]', 'with --layer: the trace')
    .parse(process.argv.slice(2), { from: 'user' });
  const o = cmd.opts<{ size: string; mix: string; runs: string; dir: string; keep?: boolean; layer?: string }>();
  if (o.layer !== undefined) {
    if (!(LAYERS as readonly string[]).includes(o.layer)) throw new Error(`bad --layer ${o.layer} (${LAYERS.join(', ')})`);
    const file = cmd.args[0];
    if (file === undefined) throw new Error('--layer needs the trace to read');
    console.log(JSON.stringify(await runLayer(file, o.layer as Layer)));
    return;
  }
  const runs = parseRuns(o.runs);
  const file = await ensureTrace(o.dir, o.mix, parseSize(o.size));
  const mb = statSync(file).size / 1e6;
  const wall = (cmd: string[]): { seconds: number; out: string } => {
    const t0 = process.hrtime.bigint();
    const r = spawnSync(cmd[0], cmd.slice(1), { encoding: 'utf8', maxBuffer: 16 << 20 });
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    if (r.status !== 0) throw new Error(`${cmd.join(' ')} failed: ${r.stderr}`);
    return { seconds, out: r.stdout };
  };
  console.log(`input: ${file} (${mb.toFixed(0)} MB, mix ${o.mix}); one thread; best of ${runs} run(s), each in a fresh process`);
  console.log('| layer | wall s (with start-up) | read s | MB/s | that layer adds (s) | events built | starts | findings |');
  console.log('|---|---|---|---|---|---|---|---|');
  const mawk = commandPath('mawk');
  if (mawk) {
    const best = Math.min(...Array.from({ length: runs }, () => wall([mawk, MAWK_PAIRING, file]).seconds));
    console.log(`| mawk pairing one-liner | ${best.toFixed(2)} | | ${(mb / best).toFixed(1)} | | | | |`);
  } else process.stderr.write('mawk not found (apt-get install mawk): skipping the one-liner\n');
  let before: number | undefined;
  const layerCommand = [process.execPath, ...binNodeFlags(), __filename, '--layer'];
  for (const layer of LAYERS) {
    let bestWall = Infinity;
    let bestRun: LayerRun | undefined;
    for (let i = 0; i < runs; i++) {
      const w = wall([...layerCommand, layer, file]);
      const r = JSON.parse(w.out.trim().split('\n').pop() as string) as LayerRun;
      if (w.seconds < bestWall) bestWall = w.seconds;
      if (bestRun === undefined || r.seconds < bestRun.seconds) bestRun = r;
    }
    const r = bestRun as LayerRun;
    const adds = before === undefined ? '' : (r.seconds - before).toFixed(2);
    console.log(`| ${layer} | ${bestWall.toFixed(2)} | ${r.seconds.toFixed(2)} | ${(mb / bestWall).toFixed(1)} | ${adds} | ${r.events} | ${r.starts} | ${r.findings} |`);
    before = r.seconds;
  }
  if (!o.keep) unlinkSync(file);
}

if (require.main === module) main().catch((err) => benchFailed('bench:layers', err));
