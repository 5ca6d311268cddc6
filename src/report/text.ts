/**
 * Human output for `mntrace check`: findings grouped by rule, each with its
 * evidence lines (file:line and the event), then a per-input summary.
 */
import { DEFAULT_MAX_FINDINGS_PER_RULE, MAX_OPEN_RANGES } from '../engine/engine';
import type { Finding, RuleMeta } from '../engine/types';
import type { Report, ReportInput } from './report';
import { describeKernel, failsRun, findingWhere, unlistedFailing, unlistedOf } from './report';
import type { Style } from './style';
import { termSafe } from './terminal';
import { formatDuration } from '../model/time';

export function renderText(unsafe: Report, st: Style, rules: readonly RuleMeta[]): string {
  // Trace content (task names, payloads, file names) shows its control characters escaped.
  const report = termSafe(unsafe);
  const out: string[] = [];
  const byRule = new Map<string, Finding[]>();
  for (const f of report.findings) {
    const list = byRule.get(f.ruleId) ?? [];
    list.push(f);
    byRule.set(f.ruleId, list);
  }
  // Findings beyond engine.maxFindingsPerRule were counted, not kept: each rule says how many.
  const unlisted = new Map<string, Record<string, number>>();
  for (const u of unlistedOf(report.inputs)) {
    const c = unlisted.get(u.ruleId) ?? {};
    c[u.severity] = (c[u.severity] ?? 0) + u.count;
    unlisted.set(u.ruleId, c);
    if (!byRule.has(u.ruleId)) byRule.set(u.ruleId, []);
  }
  for (const [ruleId, findings] of byRule) {
    const meta = rules.find((r) => r.id === ruleId);
    out.push(st.bold(`${ruleId}`) + (meta ? st.dim(` — ${meta.docs.description}`) : ''));
    for (const f of findings) {
      const sev = f.severity === 'error' ? st.red('error') : f.severity === 'warning' ? st.yellow('warning') : st.cyan('info');
      const where = findingWhere(f);
      out.push(`  ${sev} ${st.dim(`[${f.confidence}]`)} ${where}`);
      out.push(`    ${f.message}`);
      if (f.repeats) out.push(st.yellow(`    The same site did it ${f.repeats.count} more time${f.repeats.count === 1 ? '' : 's'} (counted, not listed), the last at ${f.repeats.last.path}:${f.repeats.last.line} (${f.repeats.last.timestamp}).`));
      for (const e of f.evidence) {
        out.push(st.dim(`      ${e.path}:${e.line}`) + `  ${(e.role ?? '').padEnd(16)} ${e.text ?? ''}`);
      }
    }
    const more = unlisted.get(ruleId);
    if (more) {
      const total = Object.values(more).reduce((a, b) => a + b, 0);
      const by = (['error', 'warning', 'info'] as const).filter((v) => more[v]).map((v) => `${more[v]} ${v}`).join(', ');
      out.push(st.yellow(`  ... and ${total} more ${ruleId} findings (${by}), counted but not listed: a rule lists only its first findings (${DEFAULT_MAX_FINDINGS_PER_RULE}, or engine.maxFindingsPerRule in a --config file)`));
    }
    if (meta) out.push(st.dim(`  why it matters: run \`mntrace rules ${ruleId}\``));
    out.push('');
  }
  out.push(st.bold('Summary'));
  for (const i of report.inputs) out.push(...inputSummary(i, st));
  const s = report.summary;
  const failing = report.findings.filter((f) => failsRun(f, s.failOn)).length + unlistedFailing(report.inputs, s.failOn);
  const unread = report.inputs.filter((i) => i.error || i.damaged).length;
  const whole = report.inputs.some((i) => i.damaged) ? ' whole' : '';
  const empty = s.withoutRanges?.length
    ? `no invalidation range in ${s.withoutRanges.join(', ')} (--require-ranges)`
    : undefined;
  const verdict = unread
    ? st.red(`${unread} input${unread === 1 ? '' : 's'} could not be read${whole}, for the reason${unread === 1 ? '' : 's'} given above`)
    : s.failed
    ? st.red(`FAIL: ${[...(failing || !empty ? [`${failing} finding${failing === 1 ? '' : 's'} at or above ${s.failOn}`] : []), ...(empty ? [empty] : [])].join('; ')}`)
    : st.green(report.findings.length ? `ok: nothing at or above ${s.failOn} (inconclusive findings never fail a run)` : 'ok: no findings');
  out.push(`  findings: ${s.findings.error} error, ${s.findings.warning} warning, ${s.findings.info} info — ${verdict}`);
  return out.join('\n') + '\n';
}

function inputSummary(i: ReportInput, st: Style): string[] {
  const out: string[] = [];
  if (i.error) {
    out.push(`  ${i.path}: ${st.red('could not be read')}: ${i.error}`);
    return out;
  }
  if (i.damaged) out.push(`  ${st.red('read only in part')}: ${i.damaged}; the lines before it are analysed below`);
  const extras: string[] = [];
  if (i.compression && i.compression !== 'none') extras.push(i.compression);
  out.push(`  ${i.path}: ${i.format}${extras.length ? ` (${extras.join(', ')})` : ''}, ${i.lines} lines, ${i.events} events, ` +
    (i.unreadableLines ? st.yellow(`${i.unreadableLines} unreadable`) : '0 unreadable') +
    (i.consoleLines ? `, ${i.consoleLines} other console lines` : ''));
  const r = i.ranges;
  if (r) {
    out.push(`    ranges: ${r.paired} paired, ${r.open} open, ${r.failedStarts} failed starts, ${r.orphanEnds} orphan ends` +
      ` (${r.starts} starts, ${r.nonBlockingStarts} non-blocking${r.endsAfterFailedStart ? `, ${r.endsAfterFailedStart} ends after failed starts` : ''})`);
    if (r.notKept) out.push(st.yellow(`    ${r.notKept} starts counted but not kept: more than ${MAX_OPEN_RANGES.toLocaleString('en-US')} ranges were open at once; what rests on a missing end or start after the first of them is inconclusive`));
    const types = Object.entries(r.startsByEventType).map(([t, n]) => `${t.replace('MMU_NOTIFY_', '')} ${n}`).join(', ');
    if (types) out.push(st.dim(`    starts by event: ${types}`));
    // "ok: no findings" would otherwise read as a clean bill for a capture that never had the probes on.
    const ends = r.paired + r.orphanEnds + r.endsAfterFailedStart;
    // A file cut from a bigger capture, or damaged, may just have lost them: say so before pointing at the probes.
    const lost = i.damaged ? ' they may be in what could not be read after the damage (see above); if not,'
      : i.missingEntries ? ' they may be on the lines cut from this file (check the whole trace file); if not,' : '';
    const unmapped = i.unmappedKprobes ?? [];
    const probes = lost + (unmapped.length
      ? ` ${unmapped.map((n) => `'${n}'`).join(', ')} ${unmapped.length === 1 ? 'looks like a kprobe' : 'look like kprobes'} printed at an address only, ` +
        'with a name mntrace does not know: give the capture\'s kprobe definitions with --kprobe-events FILE (cat /sys/kernel/tracing/kprobe_events on the traced machine) to map them to their functions; else'
      : '') +
      ' `mntrace probes --kernel $(uname -r)` on the traced machine prints the kprobe definitions that capture them';
    if (r.starts === 0 && ends === 0) {
      out.push(st.yellow('    no invalidation range start or end in this input, so no range was paired or judged:' + probes));
    } else if (r.starts === 0) {
      out.push(st.yellow(`    ${ends} range ends but not one start: was the __mmu_notifier_invalidate_range_start probe enabled?${probes}`));
    } else if (ends === 0) {
      out.push(st.yellow(`    ${r.starts} range starts but not one end: was the __mmu_notifier_invalidate_range_end probe enabled?${probes}`));
    }
  }
  if (i.kernel) out.push(i.kernel.source === 'unknown' ? st.yellow(`    kernel: ${describeKernel(i.kernel)}`) : st.dim(`    kernel: ${describeKernel(i.kernel)}`));
  const lat = i.latency;
  if (lat && Object.keys(lat.byEventType).length) {
    const fmt = (x: { count: number; p50Ns: number; p99Ns: number; maxNs: number }) =>
      `n=${x.count} p50 ${formatDuration(x.p50Ns)} p99 ${formatDuration(x.p99Ns)} max ${formatDuration(x.maxNs)}`;
    out.push(st.dim(`    latency by event: ${Object.entries(lat.byEventType).map(([k, x]) => `${k.replace('MMU_NOTIFY_', '')} ${fmt(x)}`).join('; ')}`));
    const callers = Object.entries(lat.byCaller).slice(0, 3);
    if (callers.length === 1 && callers[0][0] === 'unknown') {
      // A table of one row, "unknown", says nothing: say what would name the callers.
      out.push(st.dim(`    latency by caller: no start's caller was captured by name (no stack, and no kretprobe return site as a symbol): a stack on the start probe names them (ftrace: echo stacktrace > events/kprobes/mn_inv_start/trigger; trace-cmd record -T; perf record -g)`));
    } else if (callers.length) out.push(st.dim(`    latency by caller (top ${callers.length}): ${callers.map(([k, x]) => `${k} ${fmt(x)}`).join('; ')}`));
  }
  for (const s of i.subscribers ?? []) {
    out.push(`    subscriber ${s.kind ?? ''} ${s.subscriber}: ${s.starts} starts, ${s.ends} ends, in progress at end: ${s.inProgressAtEnd}`);
  }
  const cov: string[] = [];
  if (i.overwritten && i.entries) cov.push(st.yellow(`ring buffer overwrote the oldest events (entries ${i.entries.inBuffer}/${i.entries.written})`));
  if (i.lostEvents || i.lostMarkers) cov.push(st.yellow(`${i.lostEvents} events lost at ${i.lostMarkers} markers`));
  for (const b of i.bufferStats ?? []) {
    if (b.overrun) cov.push(st.yellow(`cpu ${b.cpu}: ring buffer overwrote ${b.overrun} events (stats)`));
    if (b.dropped) cov.push(st.yellow(`cpu ${b.cpu}: ${b.dropped} events dropped (stats)`));
  }
  if (i.truncated) cov.push(st.yellow('the file ends mid-line (truncated)'));
  const gap = i.missingEntries;
  if (gap) {
    cov.push(st.yellow(`the header counted ${gap.claimed} entries, the file holds ${gap.found}: lines were cut or removed after the capture, ` +
      'so findings that rest on a missing event are inconclusive (check the whole trace file for verdicts)'));
  }
  for (const c of i.cpus ?? []) {
    if (c.cpu < 0) continue;
    cov.push(`${c.machine !== undefined ? `${c.machine} ` : ''}cpu ${c.cpu}: ${c.first ?? '-'} .. ${c.last ?? '-'} (${c.events} events${c.lostEvents || c.lostMarkers ? `, ${c.lostEvents} lost` : ''})`);
  }
  if (cov.length) out.push(st.dim(`    coverage: ${cov.join('; ')}`));
  for (const u of (i.unreadable ?? []).slice(0, 5)) out.push(st.yellow(`    unreadable ${u.path}:${u.line} (${u.reason}): ${u.text}`));
  if ((i.unreadable?.length ?? 0) > 5 || i.unreadableLines > (i.unreadable?.length ?? 0)) {
    out.push(st.dim(`    ... ${i.unreadableLines - Math.min(5, i.unreadable?.length ?? 0)} more unreadable lines (--show-unreadable lists them)`));
  }
  return out;
}
