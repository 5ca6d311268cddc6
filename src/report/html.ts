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

export interface HtmlOptions {
  /** Stable fingerprints a baseline accepted. */
  known?: ReadonlySet<string>;
  /** The rules, for the filter and their descriptions (the caller's: `ruleMetas` for all mntrace ships). */
  rules: readonly RuleMeta[];
}

const OUTCOME_CODE = { paired: 0, open: 1, failed: 2, 'end-after-failed': 3 } as const;

/** JSON safe to embed in a <script> element: no `</script>`, no `<!--`, no HTML-significant characters, no JS line separators. */
export function jsonForScript(value: unknown): string {
  return JSON.stringify(value).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}

function timelineData(tl: TimelineInput | undefined, findings: Array<{ pid: number; machine: string | null; comm: string; t: number | null; input: number }>, index: number) {
  if (!tl) return null;
  const t0 = tl.firstUs ?? 0;
  // A row per task: in a report of several machines, host pid 318 and guest pid 318 are two rows.
  const tasks: Array<{ pid: number; machine: string | null; tgid?: number; comm: string }> = [];
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
  const ranges = tl.ranges.map((r) => [
    task(r.pid, r.comm, r.machine, r.tgid ?? tl.tgids.get(taskKey(r.pid, r.machine))),
    round3(r.startUs - t0),
    r.endUs === undefined ? null : round3(r.endUs - t0),
    OUTCOME_CODE[r.outcome],
    str(r.eventType),
    r.startLine,
    r.endLine ?? null,
    str(r.range),
    r.flags ?? null,
    str(r.caller),
    r.subscriberCalls.length,
    r.depth,
    r.cpu ?? null,
    r.ret ?? null,
  ]);
  for (const f of findings) if (f.input === index) task(f.pid, f.comm, f.machine ?? undefined);
  let span = (tl.lastUs ?? t0) - t0;
  for (const r of ranges) span = Math.max(span, (r[2] as number | null) ?? (r[1] as number));
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
export function htmlData(report: Report, timelines: ReadonlyArray<TimelineInput | undefined>, opts: HtmlOptions) {
  const failOn = report.summary.failOn;
  const inputIndex = (f: Finding) => Math.max(0, report.inputs.findIndex((i) => findingOfInput(f, i)));
  const findings = report.findings.map((f, k) => {
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

/* The page script. Plain ES2017; it builds every node with createElement and sets text with textContent. */
const CLIENT_JS = String.raw`(function () {
'use strict';
var data = JSON.parse(document.getElementById('mntrace-data').textContent);
var SVGNS = 'http://www.w3.org/2000/svg';
var OUTCOMES = ['paired', 'no end captured', 'start failed', 'ended after a failed start'];
function $(id) { return document.getElementById(id); }
function el(tag, cls, text) {
  var e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined && text !== null) e.textContent = String(text);
  return e;
}
function sv(tag, attrs, cls) {
  var e = document.createElementNS(SVGNS, tag);
  for (var k in attrs) e.setAttribute(k, String(attrs[k]));
  if (cls) e.setAttribute('class', cls);
  return e;
}
function fmtUs(us) {
  var a = Math.abs(us);
  if (a < 1) return (us * 1000).toFixed(0) + ' ns';
  if (a < 1000) return us.toFixed(a < 10 ? 2 : 1) + ' µs';
  if (a < 1e6) return (us / 1000).toFixed(a < 1e4 ? 3 : 2) + ' ms';
  return (us / 1e6).toFixed(a < 1e7 ? 4 : 3) + ' s';
}
function fmtTick(t, step, scale) {
  var u = scale >= 1e6 ? [1e6, ' s'] : scale >= 1e3 ? [1e3, ' ms'] : scale >= 1 ? [1, ' µs'] : [1e-3, ' ns'];
  var dec = Math.max(0, Math.min(9, Math.ceil(-Math.log10(step / u[0]) - 1e-9)));
  return '+' + (t / u[0]).toFixed(dec) + u[1];
}
function plural(n, w) { return n + ' ' + w + (n === 1 ? '' : 's'); }
// A task is its pid on its machine (a report of several machines has a host pid 318 and a guest pid 318).
function taskName(t) { return t.comm + '-' + t.pid + (t.machine !== null ? ' (' + t.machine + ')' : ''); }
function sameTask(t, f) { return t.pid === f.pid && t.machine === f.machine; }

// ---- header and summary -------------------------------------------------
var s = data.summary;
var verdict = $('verdict');
verdict.textContent = s.failed ? 'FAIL' : 'OK';
verdict.className = 'pill ' + (s.failed ? 'fail' : 'ok');
$('toolinfo').textContent = data.tool.name + ' ' + data.tool.version + ' · fail on: ' + s.failOn + ' · ' +
  (s.failed ? plural(data.failing, 'finding') + (data.failing === 1 ? ' fails' : ' fail') + ' the run' : (data.findings.length ? 'nothing fails the run' : 'no findings'));
if (data.inputs.length) document.title = 'mntrace: ' + data.inputs.map(function (i) { return i.path.replace(/^.*[\\/]/, ''); }).join(', ');
function card(label, value, cls) {
  var c = el('div', 'card' + (cls ? ' ' + cls : ''));
  c.appendChild(el('b', null, value));
  c.appendChild(el('span', 'muted', label));
  $('cards').appendChild(c);
}
card('errors', s.findings.error); card('warnings', s.findings.warning); card('info', s.findings.info);
card('ranges paired', s.ranges.paired); card('left open', s.ranges.open); card('failed starts', s.ranges.failedStarts); card('orphan ends', s.ranges.orphanEnds);
var tbody = $('inputs').querySelector('tbody');
data.inputs.forEach(function (i) {
  var tr = el('tr');
  tr.appendChild(el('td', 'path', i.path));
  tr.appendChild(el('td', null, i.error ? 'unreadable' : i.format + (i.compression !== 'none' ? ' (' + i.compression + ')' : '')));
  tr.appendChild(el('td', null, i.lines + (i.unreadableLines ? ' (' + i.unreadableLines + ' unreadable)' : '')));
  tr.appendChild(el('td', null, i.events));
  var r = i.ranges;
  tr.appendChild(el('td', null, r ? r.paired + ' paired, ' + r.open + ' open, ' + r.failedStarts + ' failed, ' + r.orphanEnds + ' orphan ends (' + r.starts + ' starts, ' + r.nonBlockingStarts + ' non-blocking)' : '-'));
  var cov = [];
  if (i.error) cov.push(i.error);
  if (i.damaged) cov.push(i.damaged + ' (the lines before it are analysed)');
  if (i.lostEvents || i.lostMarkers) cov.push(i.lostEvents + ' events lost at ' + plural(i.lostMarkers, 'marker'));
  if (i.overwritten) cov.push('ring buffer overwrote older events');
  if (i.truncated) cov.push('file ends mid-line');
  if (i.unlisted) cov.push(plural(i.unlisted, 'more finding') + ' counted but not listed (engine.maxFindingsPerRule)');
  if (i.missingEntries) cov.push('the header counted ' + i.missingEntries.claimed + ' entries, the file holds ' + i.missingEntries.found + ' (lines cut or removed)');
  tr.appendChild(el('td', null, cov.length ? cov.join('; ') : 'complete'));
  tbody.appendChild(tr);
});

// ---- findings -------------------------------------------------------------
var ruleSel = $('filter-rule'), sevSel = $('filter-severity'), knownBox = $('filter-known');
function option(sel, value, label) { var o = el('option', null, label); o.value = value; sel.appendChild(o); }
option(ruleSel, '', 'all rules');
var present = {};
data.findings.forEach(function (f) { present[f.ruleId] = (present[f.ruleId] || 0) + 1; });
data.rules.forEach(function (r) { if (present[r.id]) option(ruleSel, r.id, r.id + ' (' + present[r.id] + ')'); });
Object.keys(present).forEach(function (id) { if (!data.rules.some(function (r) { return r.id === id; })) option(ruleSel, id, id + ' (' + present[id] + ')'); });
option(sevSel, '', 'all severities');
['error', 'warning', 'info'].forEach(function (v) { option(sevSel, v, v); });
var selected = null;
function visibleFindings() {
  return data.findings.filter(function (f) {
    return (!ruleSel.value || f.ruleId === ruleSel.value) && (!sevSel.value || f.severity === sevSel.value) && (knownBox.checked || !f.known);
  });
}
function renderFindings() {
  var list = $('findings');
  while (list.firstChild) list.removeChild(list.firstChild);
  var shown = visibleFindings();
  $('finding-count').textContent = shown.length === data.findings.length ? '(' + data.findings.length + ')' : '(' + shown.length + ' of ' + data.findings.length + ')';
  if (!shown.length) {
    list.appendChild(el('li', 'empty', data.findings.length ? 'No finding matches the filters.' : 'No findings: mntrace found no misuse of invalidation ranges in this capture.'));
    return;
  }
  shown.forEach(function (f) {
    var li = el('li', 'finding' + (selected === f.k ? ' selected' : ''));
    li.setAttribute('data-k', String(f.k));
    li.tabIndex = 0;
    li.appendChild(el('span', 'sev ' + f.severity, f.severity));
    li.appendChild(el('b', null, f.ruleId));
    li.appendChild(el('span', 'tag', f.confidence));
    if (f.known) li.appendChild(el('span', 'tag', 'known'));
    li.appendChild(document.createTextNode(' ' + taskName(f) + ' at ' + f.timestamp));
    li.appendChild(el('span', 'msg', f.message));
    li.addEventListener('click', function () { selectFinding(f.k, true); });
    li.addEventListener('keydown', function (ev) { if (ev.key === 'Enter') selectFinding(f.k, true); });
    list.appendChild(li);
  });
}
function selectFinding(k, scroll) {
  selected = k;
  var f = data.findings[k];
  Array.prototype.forEach.call(document.querySelectorAll('#findings li.finding'), function (li) {
    li.classList.toggle('selected', li.getAttribute('data-k') === String(k));
  });
  var d = $('detail');
  while (d.firstChild) d.removeChild(d.firstChild);
  d.appendChild(el('h3', null, f.ruleId + ': ' + f.severity + ' [' + f.confidence + ']' + (f.known ? ' known (baseline)' : '')));
  d.appendChild(el('p', null, f.message));
  d.appendChild(el('p', 'muted small', 'task ' + taskName(f) + (f.cpu !== null ? ' on cpu ' + f.cpu : '') + ' at ' + f.timestamp + ' · ' + data.inputs[f.input].path));
  var ul = el('ul', 'evidence');
  ul.id = 'evidence';
  f.evidence.forEach(function (e) {
    var li = el('li');
    li.appendChild(el('span', 'loc', e.path + ':' + e.line));
    li.appendChild(el('span', 'role', e.role || 'event'));
    li.appendChild(el('span', 'text', e.text));
    ul.appendChild(li);
  });
  d.appendChild(ul);
  if (f.t !== null && data.timelines[f.input]) {
    var b = el('button', null, 'show on timeline');
    b.type = 'button';
    b.addEventListener('click', function () { focusFinding(f); if (scroll) $('timeline-section').scrollIntoView(); });
    d.appendChild(b);
    focusFinding(f);
  } else draw();
}
[ruleSel, sevSel, knownBox].forEach(function (c) { c.addEventListener('change', renderFindings); });
renderFindings();

// ---- timeline -------------------------------------------------------------
var LABEL_W = 190, ROW_H = 22, AXIS_H = 26, PAD_R = 12;
var tlSel = $('tl-input');
var cur = -1, view = null, tl = null, rows = [], pinned = null;
data.timelines.forEach(function (t, i) { if (t) option(tlSel, String(i), t.path + (t.dropped ? ' (' + t.dropped + ' paired ranges left out)' : '')); });
if (tlSel.options.length < 2) tlSel.style.display = 'none';
function useTimeline(i) {
  cur = i;
  tl = data.timelines[i];
  if (!tl) { view = null; rows = []; draw(); return; }
  var byTask = tl.tasks.map(function () { return []; });
  tl.ranges.forEach(function (r) { byTask[r[0]].push(r); });
  byTask.forEach(function (list) { list.sort(function (a, b) { return a[1] - b[1]; }); });
  rows = tl.tasks.map(function (t, k) { return { task: t, k: k, ranges: byTask[k] }; });
  rows.sort(function (a, b) { return ((a.task.tgid !== undefined ? a.task.tgid : a.task.pid) - (b.task.tgid !== undefined ? b.task.tgid : b.task.pid)) || a.task.pid - b.task.pid; });
  view = { a: 0, b: tl.span };
  draw();
}
tlSel.addEventListener('change', function () { useTimeline(Number(tlSel.value)); });
function width() { return Math.max(400, $('timeline').clientWidth); }
function clampView() {
  var span = view.b - view.a, total = tl.span;
  var minSpan = Math.min(0.5, total);
  if (span < minSpan) { var m = (view.a + view.b) / 2; view.a = m - minSpan / 2; view.b = m + minSpan / 2; span = minSpan; }
  if (span > total * 1.1) { view.a = -total * 0.05; view.b = total * 1.05; return; }
  if (view.a < -total * 0.05) { view.b += -total * 0.05 - view.a; view.a = -total * 0.05; }
  if (view.b > total * 1.05) { view.a -= view.b - total * 1.05; view.b = total * 1.05; }
}
function niceStep(span, n) {
  var raw = span / n, p = Math.pow(10, Math.floor(Math.log10(raw))), m = raw / p;
  return (m < 1.5 ? 1 : m < 3.5 ? 2 : m < 7.5 ? 5 : 10) * p;
}
function rangeText(r) {
  var lines = [
    tl.strings[r[4]] + ' · ' + OUTCOMES[r[3]],
    'task ' + taskName(tl.tasks[r[0]]) + (r[12] !== null ? ' cpu ' + r[12] : ''),
    'start ' + fmtUs(r[1]) + ' (line ' + r[5] + ')' + (r[2] !== null ? ', ' + (r[3] === 2 ? 'return' : 'end') + ' ' + fmtUs(r[2]) + ' (line ' + r[6] + '), ' + fmtUs(r[2] - r[1]) : ''),
    'range ' + tl.strings[r[7]] + (r[8] !== null ? ' flags=' + r[8] : '') + (r[13] !== null ? ' ret=' + r[13] : ''),
  ];
  if (r[9] >= 0) lines.push('caller ' + tl.strings[r[9]]);
  lines.push(plural(r[10], 'subscriber call'));
  return lines.join('\n');
}
function draw() {
  var box = $('timeline');
  while (box.firstChild) box.removeChild(box.firstChild);
  if (!tl) { box.appendChild(el('p', 'muted', 'No timeline for this input.')); return; }
  clampView();
  var W = width(), plotW = W - LABEL_W - PAD_R, H = AXIS_H + Math.max(1, rows.length) * ROW_H + 6;
  var span = view.b - view.a, k = plotW / span;
  function X(t) { return LABEL_W + (t - view.a) * k; }
  var svg = sv('svg', { width: W, height: H, viewBox: '0 0 ' + W + ' ' + H, role: 'img' });
  svg.appendChild(sv('title', {})).textContent = 'invalidation ranges per task, ' + tl.path;
  var clip = sv('clipPath', { id: 'plotclip' });
  clip.appendChild(sv('rect', { x: LABEL_W, y: 0, width: plotW, height: H }));
  svg.appendChild(clip);
  rows.forEach(function (row, i) { if (i % 2 === 0) svg.appendChild(sv('rect', { x: 0, y: AXIS_H + i * ROW_H, width: W, height: ROW_H }, 'rowbg')); });
  var plot = sv('g', { 'clip-path': 'url(#plotclip)' });
  svg.appendChild(plot);
  // axis
  var step = niceStep(span, Math.max(2, Math.floor(plotW / 110)));
  for (var t = Math.ceil(view.a / step) * step; t <= view.b; t += step) {
    var x = X(t);
    plot.appendChild(sv('line', { x1: x, x2: x, y1: AXIS_H - 6, y2: H, stroke: '#eceff3' }));
    var tx = sv('text', { x: x + 3, y: AXIS_H - 10 }, 'tick');
    tx.textContent = fmtTick(t, step, Math.max(Math.abs(view.a), Math.abs(view.b)));
    plot.appendChild(tx);
  }
  // lost-event windows
  tl.losses.forEach(function (w) {
    if (w.e < view.a || w.s > view.b) return;
    var r = sv('rect', { x: X(w.s), y: AXIS_H, width: Math.max(2, (w.e - w.s) * k), height: H - AXIS_H }, 'loss');
    r.appendChild(sv('title', {})).textContent = (w.why === 'lost-events' ? 'events lost' + (w.count !== null ? ' (' + w.count + ')' : '') : w.why) + (w.cpu !== null ? ' on cpu ' + w.cpu : '') + ', trace line ' + w.line;
    plot.appendChild(r);
  });
  var drawn = 0;
  rows.forEach(function (row, i) {
    var y = AXIS_H + i * ROW_H;
    var g = sv('g', {});
    var label = sv('text', { x: 6, y: y + 15 }, 'lbl');
    var name = taskName(row.task);
    label.textContent = name.length > 24 ? name.slice(0, 23) + '…' : name;
    g.appendChild(sv('title', {})).textContent = name + (row.task.tgid !== undefined ? ' (tgid ' + row.task.tgid + ')' : '') + ', ' + plural(row.ranges.length, 'range');
    g.appendChild(label);
    svg.appendChild(g);
    var lastPx = -1, lastCls = -1;
    row.ranges.forEach(function (r) {
      var end = r[2] === null ? tl.span : r[2];
      if (end < view.a || r[1] > view.b) return;
      var x0 = X(r[1]), x1 = X(end), w = x1 - x0;
      var px = Math.floor(x0);
      if (w < 1) {
        if (px === lastPx && r[3] === lastCls) return; // sub-pixel ranges merge per pixel column
        w = 1;
      }
      lastPx = px; lastCls = r[3];
      var inset = Math.min(r[11], 3) * 2;
      // A range with no end runs to the end of the capture: a strip along the top, so the row's later ranges stay visible.
      var rect = r[3] === 1
        ? sv('rect', { x: x0, y: y + 2, width: w, height: 5, 'data-r': r[5] }, 'r1')
        : sv('rect', { x: x0, y: y + 3 + inset, width: w, height: ROW_H - 6 - inset * 2, 'data-r': r[5] }, 'r' + r[3]);
      rect.addEventListener('mouseenter', function () { if (pinned === null) $('range-detail').textContent = rangeText(r); });
      rect.addEventListener('click', function (ev) { ev.stopPropagation(); pinned = r; $('range-detail').textContent = rangeText(r); });
      plot.appendChild(rect);
      drawn++;
    });
  });
  // findings
  data.findings.forEach(function (f) {
    if (f.input !== cur || f.t === null || f.t < view.a || f.t > view.b) return;
    if (!knownBox.checked && f.known) return;
    var i = -1;
    rows.forEach(function (row, j) { if (sameTask(row.task, f)) i = j; });
    if (i < 0) return;
    var x = X(f.t), y = AXIS_H + i * ROW_H;
    var m = sv('path', { d: 'M' + x + ' ' + (y + 1) + ' l5 5 l-5 5 l-5 -5 z', 'data-k': f.k }, 'fmark' + (selected === f.k ? ' sel' : ''));
    m.appendChild(sv('title', {})).textContent = f.ruleId + ': ' + f.message;
    m.addEventListener('click', function (ev) { ev.stopPropagation(); selectFinding(f.k, false); });
    plot.appendChild(m);
    if (selected === f.k) plot.appendChild(sv('line', { x1: x, x2: x, y1: AXIS_H, y2: H, stroke: '#000', 'stroke-dasharray': '3 3' }));
  });
  box.appendChild(svg);
  box.setAttribute('data-drawn', String(drawn));
  $('tl-view').textContent = fmtUs(view.a) + ' … ' + fmtUs(view.b) + ' (' + fmtUs(span) + ' shown of ' + fmtUs(tl.span) + ', trace clock +' + (tl.t0 / 1e6).toFixed(6) + ' s)';
}
function focusFinding(f) {
  if (f.input !== cur) { tlSel.value = String(f.input); useTimeline(f.input); }
  if (!tl) return;
  // Show the ranges the evidence lines belong to, with room around them.
  var lines = {}, lo = f.t, hi = f.t;
  f.evidence.forEach(function (e) { lines[e.line] = true; });
  tl.ranges.forEach(function (r) {
    if (!sameTask(tl.tasks[r[0]], f) || !(lines[r[5]] || (r[6] !== null && lines[r[6]]))) return;
    lo = Math.min(lo, r[1]);
    hi = Math.max(hi, r[2] === null ? r[1] : r[2]);
  });
  var w = Math.max(hi - lo, 20);
  view = { a: lo - w * 0.75, b: hi + w * 0.75 };
  draw();
}
function zoom(factor, at) {
  var a = view.a, b = view.b, c = at === undefined ? (a + b) / 2 : at;
  view = { a: c - (c - a) * factor, b: c + (b - c) * factor };
  draw();
}
$('zoom-in').addEventListener('click', function () { if (tl) zoom(0.5); });
$('zoom-out').addEventListener('click', function () { if (tl) zoom(2); });
$('zoom-reset').addEventListener('click', function () { if (tl) { view = { a: 0, b: tl.span }; draw(); } });
var box = $('timeline');
box.addEventListener('wheel', function (ev) {
  if (!tl || ev.shiftKey) return;
  var rect = box.getBoundingClientRect(), px = ev.clientX - rect.left;
  if (px < LABEL_W) return;
  ev.preventDefault();
  var at = view.a + (px - LABEL_W) / (width() - LABEL_W - PAD_R) * (view.b - view.a);
  zoom(Math.exp(ev.deltaY * 0.0015), at);
}, { passive: false });
var drag = null;
box.addEventListener('mousedown', function (ev) { if (tl) drag = { x: ev.clientX, a: view.a, b: view.b, moved: false }; });
window.addEventListener('mousemove', function (ev) {
  if (!drag) return;
  var dx = ev.clientX - drag.x;
  if (Math.abs(dx) > 2) drag.moved = true;
  if (!drag.moved) return;
  var d = dx / (width() - LABEL_W - PAD_R) * (drag.b - drag.a);
  view = { a: drag.a - d, b: drag.b - d };
  draw();
});
window.addEventListener('mouseup', function () { drag = null; });
box.addEventListener('click', function () { pinned = null; });
var resizeTimer = null;
window.addEventListener('resize', function () { clearTimeout(resizeTimer); resizeTimer = setTimeout(function () { if (tl) draw(); }, 100); });
var first = data.timelines.findIndex(function (t) { return !!t; });
useTimeline(first);
if (first >= 0) tlSel.value = String(first);
})();
`;
