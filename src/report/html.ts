/**
 * `mntrace check --format html -o report.html`: one self-contained file (no
 * network: inline CSS and JS, a Content-Security-Policy that allows nothing
 * else) with the summary, the findings (filterable by rule and severity; a
 * click shows the evidence lines) and a zoomable SVG timeline of the ranges
 * per task.
 *
 * Everything from the trace (task names are chosen by whoever starts the
 * process) travels as JSON in a <script type="application/json"> with <, >, &,
 * U+2028 and U+2029 escaped, and the page renders it with textContent and
 * createElement only: never innerHTML. The one inline script is allowed by its
 * sha256 in the CSP, so inline event handlers could not run even if markup got in.
 */
import { createHash } from 'node:crypto';
import type { Finding, RuleMeta } from '../engine/types';
import { failsWithBaseline } from './baseline';
import { findingOfInput, unlistedFailing, type Report } from './report';
import { taskKey } from '../model/event';
import { rawToUs, type TimelineInput } from './timeline';
import { OUTCOME_CODE, pageScript, type PageData, type PageFinding, type PageRanges, type PageTask, type PageTimeline } from './html-client';

export interface HtmlOptions {
  /** Stable fingerprints a baseline accepted. */
  known?: ReadonlySet<string>;
  /** The rules, for the filter and their descriptions (the caller's: `ruleMetas` for all mntrace ships). */
  rules: readonly RuleMeta[];
}

/** JSON safe to embed in a <script> element: no `</script>`, no `<!--`, no HTML-significant characters, no JS line separators. */
export function jsonForScript(value: unknown): string {
  return JSON.stringify(value).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}

function timelineData(tl: TimelineInput | undefined, findings: readonly PageFinding[], index: number): PageTimeline | null {
  if (!tl) return null;
  const t0 = tl.firstUs ?? 0;
  // A row per task: in a report of several machines, host pid 318 and guest pid 318 are two rows.
  const tasks: PageTask[] = [];
  const taskIdx = new Map<number | string, number>();
  const task = (pid: number, comm: string, machine: string | undefined, tgid?: number) => {
    const key = taskKey(pid, machine);
    let i = taskIdx.get(key);
    if (i === undefined) {
      i = tasks.length;
      taskIdx.set(key, i);
      tasks.push({ pid, machine: machine ?? null, ...(tgid !== undefined ? { tgid } : {}), comm });
    } else if (tasks[i].comm === '<...>') tasks[i].comm = comm;
    return i;
  };
  const strings: string[] = [];
  const stringIdx = new Map<string, number>();
  const str = (s: string | undefined) => {
    if (s === undefined) return -1;
    let i = stringIdx.get(s);
    if (i === undefined) {
      i = strings.length;
      stringIdx.set(s, i);
      strings.push(s);
    }
    return i;
  };
  const ranges: PageRanges = {
    task: [], start: [], end: [], outcome: [], eventType: [], startLine: [], endLine: [], range: [], flags: [], caller: [], subscriberCalls: [], depth: [], cpu: [], ret: [],
  };
  for (const r of tl.ranges) {
    ranges.task.push(task(r.pid, r.comm, r.machine, r.tgid ?? tl.tgids.get(taskKey(r.pid, r.machine))));
    ranges.start.push(round3(r.startUs - t0));
    ranges.end.push(r.endUs === undefined ? null : round3(r.endUs - t0));
    ranges.outcome.push(OUTCOME_CODE[r.outcome]);
    ranges.eventType.push(str(r.eventType));
    ranges.startLine.push(r.startLine);
    ranges.endLine.push(r.endLine ?? null);
    ranges.range.push(str(r.range));
    ranges.flags.push(r.flags ?? null);
    ranges.caller.push(str(r.caller));
    ranges.subscriberCalls.push(r.subscriberCalls.length);
    ranges.depth.push(r.depth);
    ranges.cpu.push(r.cpu ?? null);
    ranges.ret.push(r.ret ?? null);
  }
  for (const f of findings) if (f.input === index) task(f.pid, f.comm, f.machine ?? undefined);
  let span = (tl.lastUs ?? t0) - t0;
  ranges.start.forEach((start, i) => { span = Math.max(span, ranges.end[i] ?? start); });
  return {
    path: tl.path,
    t0,
    span: round3(Math.max(span, 1)),
    dropped: tl.dropped,
    tasks,
    strings,
    ranges,
    losses: tl.losses.map((w) => ({
      cpu: w.cpu ?? null,
      s: w.fromUs !== undefined ? round3(w.fromUs - t0) : 0,
      e: w.toUs !== undefined ? round3(w.toUs - t0) : round3(span),
      why: w.why,
      count: w.count ?? null,
      line: w.line,
    })),
  };
}

/** The data the page renders (exported for tests). */
export function htmlData(report: Report, timelines: ReadonlyArray<TimelineInput | undefined>, opts: HtmlOptions): PageData {
  const failOn = report.summary.failOn;
  const inputIndex = (f: Finding) => Math.max(0, report.inputs.findIndex((i) => findingOfInput(f, i)));
  const findings = report.findings.map((f, k): PageFinding => {
    const input = inputIndex(f);
    const t = rawToUs(f.timestamp);
    const t0 = timelines[input]?.firstUs ?? 0;
    return {
      k,
      ruleId: f.ruleId,
      severity: f.severity,
      confidence: f.confidence,
      message: f.message,
      pid: f.pid,
      machine: f.machine ?? null,
      comm: f.comm,
      cpu: f.cpu ?? null,
      timestamp: f.timestamp,
      evidence: f.evidence.map((e) => ({ path: e.path, line: e.line, role: e.role ?? '', text: e.text ?? '' })),
      known: !!opts.known?.has(f.fingerprint),
      fails: failsWithBaseline(f, failOn, opts.known),
      input,
      t: t === undefined ? null : round3(t - t0),
    };
  });
  return {
    tool: report.tool,
    summary: report.summary,
    // Findings past the per-rule limit are counted only; those at or above --fail-on fail the run too.
    failing: findings.filter((f) => f.fails).length + unlistedFailing(report.inputs, failOn),
    rules: opts.rules.map((r) => ({ id: r.id, description: r.docs.description })),
    inputs: report.inputs.map((i) => ({
      path: i.path, format: i.format, compression: i.compression ?? 'none', lines: i.lines, events: i.events,
      unreadableLines: i.unreadableLines, unreadable: (i.unreadable ?? []).slice(0, 20), truncated: !!i.truncated,
      lostEvents: i.lostEvents ?? 0, lostMarkers: i.lostMarkers ?? 0, overwritten: !!i.overwritten, missingEntries: i.missingEntries ?? null, damaged: i.damaged ?? null, error: i.error ?? null,
      ranges: i.ranges ?? null, subscribers: i.subscribers ?? [],
      unlisted: (i.unlistedFindings ?? []).reduce((n, u) => n + u.count, 0),
    })),
    findings,
    timelines: report.inputs.map((_, idx) => timelineData(timelines[idx], findings, idx)),
  };
}

export function renderHtml(report: Report, timelines: ReadonlyArray<TimelineInput | undefined>, opts: HtmlOptions): string {
  const data = jsonForScript(htmlData(report, timelines, opts));
  const scriptHash = createHash('sha256').update(CLIENT_JS).digest('base64');
  const csp = `default-src 'none'; style-src 'unsafe-inline'; script-src 'sha256-${scriptHash}'; img-src data:; base-uri 'none'; form-action 'none'`;
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="mntrace">
<title>mntrace report</title>
<style>${CSS}</style>
</head>
<body>
<header id="top"><h1>mntrace report</h1><span id="verdict" class="pill"></span><span id="toolinfo" class="muted"></span></header>
<main>
<section id="summary"><h2>Summary</h2><div id="cards" class="cards"></div><table id="inputs" class="grid"><thead><tr><th>input</th><th>format</th><th>lines</th><th>events</th><th>ranges</th><th>coverage</th></tr></thead><tbody></tbody></table></section>
<section id="findings-section"><h2>Findings <span id="finding-count" class="muted"></span></h2>
<div class="filters"><label>rule <select id="filter-rule"></select></label><label>severity <select id="filter-severity"></select></label><label><input type="checkbox" id="filter-known" checked> show known (baseline)</label></div>
<div class="split"><ul id="findings" class="findings"></ul><div id="detail" class="detail"><p class="muted">Click a finding to see its evidence lines.</p></div></div>
</section>
<section id="timeline-section"><h2>Timeline</h2>
<div class="toolbar"><select id="tl-input"></select><button type="button" id="zoom-in" title="zoom in">+</button><button type="button" id="zoom-out" title="zoom out">&minus;</button><button type="button" id="zoom-reset">reset</button><span id="tl-view" class="muted"></span><span class="legend"><i class="sw paired"></i>paired <i class="sw open"></i>no end <i class="sw failed"></i>failed start <i class="sw eaf"></i>ended after failed start <i class="sw loss"></i>events lost <i class="sw finding"></i>finding</span></div>
<p class="muted small">Scroll to zoom, drag to pan, hover a range for its details, click it to pin them.</p>
<div id="timeline" class="timeline"></div>
<div id="range-detail" class="detail small muted">Hover a range to see its event type, lines, range pointer, flags and caller.</div>
</section>
</main>
<script type="application/json" id="mntrace-data">${data}</script>
<script>${CLIENT_JS}</script>
</body>
</html>
`;
}

const CSS = `
:root{--fg:#1d2330;--muted:#667085;--line:#e4e7ec;--bg:#f8f9fb;--err:#c62828;--warn:#b26a00;--info:#1565c0;--ok:#2e7d32;--paired:#4a7bd0;--open:#d32f2f;--failed:#ef8a17;--eaf:#8e44ad;}
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);background:var(--bg)}
header{display:flex;gap:12px;align-items:baseline;padding:14px 24px;background:#fff;border-bottom:1px solid var(--line)}
h1{font-size:20px;margin:0}h2{font-size:16px;margin:0 0 10px}
main{padding:16px 24px;display:flex;flex-direction:column;gap:18px}
section{background:#fff;border:1px solid var(--line);border-radius:8px;padding:14px 16px}
.muted{color:var(--muted)}.small{font-size:12px}
.pill{padding:2px 10px;border-radius:999px;font-weight:600;color:#fff}
.pill.fail{background:var(--err)}.pill.ok{background:var(--ok)}
.cards{display:flex;flex-wrap:wrap;gap:10px;margin-bottom:12px}
.card{border:1px solid var(--line);border-radius:6px;padding:8px 12px;min-width:110px}
.card b{display:block;font-size:20px}
table.grid{border-collapse:collapse;width:100%;font-size:13px}
table.grid th,table.grid td{border-bottom:1px solid var(--line);padding:5px 8px;text-align:left;vertical-align:top}
table.grid td.path{font-family:ui-monospace,Menlo,Consolas,monospace;word-break:break-all}
.filters{display:flex;gap:16px;margin-bottom:8px;flex-wrap:wrap}
.split{display:grid;grid-template-columns:minmax(300px,2fr) 3fr;gap:12px}
.findings{list-style:none;margin:0;padding:0;max-height:420px;overflow:auto;border:1px solid var(--line);border-radius:6px}
.findings li{padding:7px 10px;border-bottom:1px solid var(--line);cursor:pointer}
.findings li:hover{background:#f2f5fa}.findings li.selected{background:#e6eefc}
.findings li .msg{display:block;color:var(--muted);font-size:12px;white-space:nowrap;overflow:hidden;text-overflow:ellipsis}
.findings li.empty{cursor:default;color:var(--muted)}
.sev{display:inline-block;min-width:58px;font-size:11px;font-weight:700;text-transform:uppercase}
.sev.error{color:var(--err)}.sev.warning{color:var(--warn)}.sev.info{color:var(--info)}
.tag{font-size:11px;border:1px solid var(--line);border-radius:4px;padding:0 5px;margin-left:4px;color:var(--muted)}
.detail{border:1px solid var(--line);border-radius:6px;padding:10px 12px;overflow:auto;max-height:420px}
.detail h3{margin:0 0 6px;font-size:14px}
.evidence{list-style:none;margin:8px 0 0;padding:0;font:12px/1.5 ui-monospace,Menlo,Consolas,monospace}
.evidence li{padding:3px 0;border-top:1px dashed var(--line);white-space:pre-wrap;word-break:break-all}
.evidence .loc{color:var(--info);margin-right:10px}.evidence .role{display:inline-block;min-width:130px;margin-right:10px;color:var(--warn)}
.toolbar{display:flex;gap:8px;align-items:center;flex-wrap:wrap;margin-bottom:4px}
.toolbar button{min-width:32px;padding:3px 10px;border:1px solid var(--line);background:#fff;border-radius:5px;cursor:pointer}
.legend{margin-left:auto;font-size:12px;color:var(--muted)}
.sw{display:inline-block;width:12px;height:10px;margin:0 4px 0 10px;border-radius:2px;vertical-align:middle}
.sw.paired{background:var(--paired)}.sw.open{background:var(--open)}.sw.failed{background:var(--failed)}.sw.eaf{background:var(--eaf)}.sw.loss{background:rgba(90,90,90,.25)}.sw.finding{background:var(--err);width:3px}
.timeline{border:1px solid var(--line);border-radius:6px;overflow-x:hidden;overflow-y:auto;max-height:560px;cursor:grab;user-select:none}
.timeline svg{display:block}
.timeline .lbl{font:12px ui-monospace,Menlo,Consolas,monospace;fill:var(--fg)}
.timeline .tick{font-size:10px;fill:var(--muted)}
.r0{fill:var(--paired)}.r1{fill:var(--open)}.r2{fill:var(--failed)}.r3{fill:var(--eaf)}
.fmark{fill:var(--err);stroke:#fff;stroke-width:1;cursor:pointer}
.fmark.sel{fill:#000}
.loss{fill:rgba(90,90,90,.18)}
.rowbg{fill:#fafbfc}
#range-detail{margin-top:6px;font-family:ui-monospace,Menlo,Consolas,monospace;white-space:pre-wrap}
`;

/** The page script (html-client.ts) as the browser runs it: its compiled source, called at once. */
const CLIENT_JS = `(${pageScript.toString()})();`;
if (/<\/script|<!--/i.test(CLIENT_JS)) throw new Error('the page script would close its <script> element');
