/// <reference lib="dom" />
/**
 * The HTML report's page: the data it is given (PageData, made by html.ts and
 * embedded as JSON) and the script that renders it (pageScript), type-checked
 * here with the DOM's types and embedded by html.ts as its compiled source.
 *
 * pageScript runs in the browser, alone: it may use nothing from outside its
 * own body (no import is there at run time), builds every node with
 * createElement and sets text with textContent only (trace text is hostile).
 */
import type { RangeCounts, SubscriberSummary } from '../engine/engine';
import type { Confidence, Severity } from '../engine/types';
import type { Report } from './report';

export interface PageEvidence { path: string; line: number; role: string; text: string }

export interface PageFinding {
  /** Its index in PageData.findings. */
  k: number;
  ruleId: string;
  severity: Severity;
  confidence: Confidence;
  message: string;
  pid: number;
  machine: string | null;
  comm: string;
  cpu: number | null;
  timestamp: string;
  evidence: PageEvidence[];
  known: boolean;
  fails: boolean;
  /** Its input's index. */
  input: number;
  /** µs from its timeline's t0, when the timestamp is on the trace clock. */
  t: number | null;
}

export interface PageInput {
  path: string; format: string; compression: string; lines: number; events: number;
  unreadableLines: number; unreadable: Array<{ path: string; line: number; reason: string; text: string }>; truncated: boolean;
  lostEvents: number; lostMarkers: number; overwritten: boolean; missingEntries: { claimed: number; found: number } | null;
  damaged: string | null; error: string | null; ranges: RangeCounts | null; subscribers: SubscriberSummary[]; unlisted: number;
}

export interface PageTask { pid: number; machine: string | null; tgid?: number; comm: string }

/** How a range ended: an index into OUTCOMES of the page (and the CSS class r0..r3). */
export const OUTCOME_CODE = { paired: 0, open: 1, failed: 2, 'end-after-failed': 3 } as const;

/**
 * The ranges of a timeline, a column per field (range i is index i of every
 * column): named, and as compact as a tuple per range. String fields are
 * indices into PageTimeline.strings (-1: none).
 */
export interface PageRanges {
  /** Index into PageTimeline.tasks. */
  task: number[];
  /** µs from t0. */
  start: number[];
  end: Array<number | null>;
  outcome: number[];
  eventType: number[];
  startLine: number[];
  endLine: Array<number | null>;
  range: number[];
  flags: Array<number | null>;
  caller: number[];
  subscriberCalls: number[];
  /** Nesting depth in its task (0: outermost). */
  depth: number[];
  cpu: Array<number | null>;
  ret: Array<string | null>;
}

export interface PageLoss { cpu: number | null; s: number; e: number; why: string; count: number | null; line: number }

export interface PageTimeline {
  path: string;
  /** The capture's first timestamp (µs on the trace clock): every time of the timeline is relative to it. */
  t0: number;
  span: number;
  dropped: number;
  tasks: PageTask[];
  strings: string[];
  ranges: PageRanges;
  losses: PageLoss[];
}

export interface PageData {
  tool: Report['tool'];
  summary: Report['summary'];
  failing: number;
  rules: Array<{ id: string; description: string }>;
  inputs: PageInput[];
  findings: PageFinding[];
  timelines: Array<PageTimeline | null>;
}

/** The page script: reads the PageData of #mntrace-data and renders it. */
export function pageScript(): void {
  'use strict';
  const data = JSON.parse(document.getElementById('mntrace-data')!.textContent!) as PageData;
  const SVGNS = 'http://www.w3.org/2000/svg';
  const OUTCOMES = ['paired', 'no end captured', 'start failed', 'ended after a failed start'];
  const OPEN = 1;
  const FAILED = 2;
  const $ = <T extends HTMLElement = HTMLElement>(id: string): T => document.getElementById(id) as T;
  function el(tag: string, cls?: string | null, text?: string | number | null): HTMLElement {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }
  function sv(tag: string, attrs: Record<string, string | number>, cls?: string): SVGElement {
    const e = document.createElementNS(SVGNS, tag);
    for (const k in attrs) e.setAttribute(k, String(attrs[k]));
    if (cls) e.setAttribute('class', cls);
    return e;
  }
  function titled(parent: SVGElement, text: string): void {
    parent.appendChild(sv('title', {})).textContent = text;
  }
  function fmtUs(us: number): string {
    const a = Math.abs(us);
    if (a < 1) return (us * 1000).toFixed(0) + ' ns';
    if (a < 1000) return us.toFixed(a < 10 ? 2 : 1) + ' µs';
    if (a < 1e6) return (us / 1000).toFixed(a < 1e4 ? 3 : 2) + ' ms';
    return (us / 1e6).toFixed(a < 1e7 ? 4 : 3) + ' s';
  }
  function fmtTick(t: number, step: number, scale: number): string {
    const [unit, name] = scale >= 1e6 ? [1e6, ' s'] : scale >= 1e3 ? [1e3, ' ms'] : scale >= 1 ? [1, ' µs'] : [1e-3, ' ns'];
    const dec = Math.max(0, Math.min(9, Math.ceil(-Math.log10(step / unit) - 1e-9)));
    return '+' + (t / unit).toFixed(dec) + name;
  }
  const plural = (n: number, w: string) => n + ' ' + w + (n === 1 ? '' : 's');
  // A task is its pid on its machine (a report of several machines has a host pid 318 and a guest pid 318).
  const taskName = (t: { comm: string; pid: number; machine: string | null }) => t.comm + '-' + t.pid + (t.machine !== null ? ' (' + t.machine + ')' : '');
  const sameTask = (t: PageTask, f: PageFinding) => t.pid === f.pid && t.machine === f.machine;

  // ---- header and summary -------------------------------------------------
  const s = data.summary;
  const verdict = $('verdict');
  verdict.textContent = s.failed ? 'FAIL' : 'OK';
  verdict.className = 'pill ' + (s.failed ? 'fail' : 'ok');
  $('toolinfo').textContent = data.tool.name + ' ' + data.tool.version + ' · fail on: ' + s.failOn + ' · ' +
    (s.failed ? plural(data.failing, 'finding') + (data.failing === 1 ? ' fails' : ' fail') + ' the run' : (data.findings.length ? 'nothing fails the run' : 'no findings'));
  if (data.inputs.length) document.title = 'mntrace: ' + data.inputs.map((i) => i.path.replace(/^.*[\\/]/, '')).join(', ');
  function card(label: string, value: number): void {
    const c = el('div', 'card');
    c.appendChild(el('b', null, value));
    c.appendChild(el('span', 'muted', label));
    $('cards').appendChild(c);
  }
  card('errors', s.findings.error); card('warnings', s.findings.warning); card('info', s.findings.info);
  card('ranges paired', s.ranges.paired); card('left open', s.ranges.open); card('failed starts', s.ranges.failedStarts); card('orphan ends', s.ranges.orphanEnds);
  const tbody = $('inputs').querySelector('tbody')!;
  for (const i of data.inputs) {
    const tr = el('tr');
    tr.appendChild(el('td', 'path', i.path));
    tr.appendChild(el('td', null, i.error ? 'unreadable' : i.format + (i.compression !== 'none' ? ' (' + i.compression + ')' : '')));
    tr.appendChild(el('td', null, i.lines + (i.unreadableLines ? ' (' + i.unreadableLines + ' unreadable)' : '')));
    tr.appendChild(el('td', null, i.events));
    const r = i.ranges;
    tr.appendChild(el('td', null, r ? r.paired + ' paired, ' + r.open + ' open, ' + r.failedStarts + ' failed, ' + r.orphanEnds + ' orphan ends (' + r.starts + ' starts, ' + r.nonBlockingStarts + ' non-blocking)' : '-'));
    const cov: string[] = [];
    if (i.error) cov.push(i.error);
    if (i.damaged) cov.push(i.damaged + ' (the lines before it are analysed)');
    if (i.lostEvents || i.lostMarkers) cov.push(i.lostEvents + ' events lost at ' + plural(i.lostMarkers, 'marker'));
    if (i.overwritten) cov.push('ring buffer overwrote older events');
    if (i.truncated) cov.push('file ends mid-line');
    if (i.unlisted) cov.push(plural(i.unlisted, 'more finding') + ' counted but not listed (engine.maxFindingsPerRule)');
    if (i.missingEntries) cov.push('the header counted ' + i.missingEntries.claimed + ' entries, the file holds ' + i.missingEntries.found + ' (lines cut or removed)');
    tr.appendChild(el('td', null, cov.length ? cov.join('; ') : 'complete'));
    tbody.appendChild(tr);
  }

  // ---- findings -------------------------------------------------------------
  const ruleSel = $<HTMLSelectElement>('filter-rule');
  const sevSel = $<HTMLSelectElement>('filter-severity');
  const knownBox = $<HTMLInputElement>('filter-known');
  function option(sel: HTMLSelectElement, value: string, label: string): void {
    const o = el('option', null, label) as HTMLOptionElement;
    o.value = value;
    sel.appendChild(o);
  }
  option(ruleSel, '', 'all rules');
  const present: Record<string, number> = {};
  for (const f of data.findings) present[f.ruleId] = (present[f.ruleId] ?? 0) + 1;
  for (const r of data.rules) if (present[r.id]) option(ruleSel, r.id, r.id + ' (' + present[r.id] + ')');
  for (const id of Object.keys(present)) if (!data.rules.some((r) => r.id === id)) option(ruleSel, id, id + ' (' + present[id] + ')');
  option(sevSel, '', 'all severities');
  for (const v of ['error', 'warning', 'info']) option(sevSel, v, v);
  let selected: number | null = null;
  const visibleFindings = () => data.findings.filter((f) =>
    (!ruleSel.value || f.ruleId === ruleSel.value) && (!sevSel.value || f.severity === sevSel.value) && (knownBox.checked || !f.known));
  function clear(node: Element): void {
    while (node.firstChild) node.removeChild(node.firstChild);
  }
  function renderFindings(): void {
    const list = $('findings');
    clear(list);
    const shown = visibleFindings();
    $('finding-count').textContent = shown.length === data.findings.length ? '(' + data.findings.length + ')' : '(' + shown.length + ' of ' + data.findings.length + ')';
    if (!shown.length) {
      list.appendChild(el('li', 'empty', data.findings.length ? 'No finding matches the filters.' : 'No findings: mntrace found no misuse of invalidation ranges in this capture.'));
      return;
    }
    for (const f of shown) {
      const li = el('li', 'finding' + (selected === f.k ? ' selected' : ''));
      li.setAttribute('data-k', String(f.k));
      li.tabIndex = 0;
      li.appendChild(el('span', 'sev ' + f.severity, f.severity));
      li.appendChild(el('b', null, f.ruleId));
      li.appendChild(el('span', 'tag', f.confidence));
      if (f.known) li.appendChild(el('span', 'tag', 'known'));
      li.appendChild(document.createTextNode(' ' + taskName(f) + ' at ' + f.timestamp));
      li.appendChild(el('span', 'msg', f.message));
      li.addEventListener('click', () => selectFinding(f.k, true));
      li.addEventListener('keydown', (ev) => { if (ev.key === 'Enter') selectFinding(f.k, true); });
      list.appendChild(li);
    }
  }
  function selectFinding(k: number, scroll: boolean): void {
    selected = k;
    const f = data.findings[k]!;
    document.querySelectorAll('#findings li.finding').forEach((li) => li.classList.toggle('selected', li.getAttribute('data-k') === String(k)));
    const d = $('detail');
    clear(d);
    d.appendChild(el('h3', null, f.ruleId + ': ' + f.severity + ' [' + f.confidence + ']' + (f.known ? ' known (baseline)' : '')));
    d.appendChild(el('p', null, f.message));
    d.appendChild(el('p', 'muted small', 'task ' + taskName(f) + (f.cpu !== null ? ' on cpu ' + f.cpu : '') + ' at ' + f.timestamp + ' · ' + data.inputs[f.input]!.path));
    const ul = el('ul', 'evidence');
    ul.id = 'evidence';
    for (const e of f.evidence) {
      const li = el('li');
      li.appendChild(el('span', 'loc', e.path + ':' + e.line));
      li.appendChild(el('span', 'role', e.role || 'event'));
      li.appendChild(el('span', 'text', e.text));
      ul.appendChild(li);
    }
    d.appendChild(ul);
    if (f.t !== null && data.timelines[f.input]) {
      const b = el('button', null, 'show on timeline') as HTMLButtonElement;
      b.type = 'button';
      b.addEventListener('click', () => { focusFinding(f); if (scroll) $('timeline-section').scrollIntoView(); });
      d.appendChild(b);
      focusFinding(f);
    } else draw();
  }
  for (const c of [ruleSel, sevSel, knownBox]) c.addEventListener('change', renderFindings);
  renderFindings();

  // ---- timeline -------------------------------------------------------------
  const LABEL_W = 190, ROW_H = 22, AXIS_H = 26, PAD_R = 12;
  interface Row { task: PageTask; ranges: number[] }
  const tlSel = $<HTMLSelectElement>('tl-input');
  let cur = -1;
  let view = { a: 0, b: 1 };
  let tl: PageTimeline | null = null;
  let rows: Row[] = [];
  let pinned: number | null = null;
  data.timelines.forEach((t, i) => { if (t) option(tlSel, String(i), t.path + (t.dropped ? ' (' + t.dropped + ' paired ranges left out)' : '')); });
  if (tlSel.options.length < 2) tlSel.style.display = 'none';
  function useTimeline(i: number): void {
    cur = i;
    tl = data.timelines[i] ?? null;
    if (!tl) { rows = []; draw(); return; }
    const R = tl.ranges;
    const byTask: number[][] = tl.tasks.map(() => []);
    R.task.forEach((task, r) => byTask[task]!.push(r));
    for (const list of byTask) list.sort((a, b) => R.start[a]! - R.start[b]!);
    rows = tl.tasks.map((task, k) => ({ task, ranges: byTask[k]! }));
    const group = (t: PageTask) => (t.tgid !== undefined ? t.tgid : t.pid);
    rows.sort((a, b) => (group(a.task) - group(b.task)) || a.task.pid - b.task.pid);
    view = { a: 0, b: tl.span };
    draw();
  }
  tlSel.addEventListener('change', () => useTimeline(Number(tlSel.value)));
  const width = () => Math.max(400, $('timeline').clientWidth);
  function clampView(total: number): void {
    let span = view.b - view.a;
    const minSpan = Math.min(0.5, total);
    if (span < minSpan) { const m = (view.a + view.b) / 2; view.a = m - minSpan / 2; view.b = m + minSpan / 2; span = minSpan; }
    if (span > total * 1.1) { view.a = -total * 0.05; view.b = total * 1.05; return; }
    if (view.a < -total * 0.05) { view.b += -total * 0.05 - view.a; view.a = -total * 0.05; }
    if (view.b > total * 1.05) { view.a -= view.b - total * 1.05; view.b = total * 1.05; }
  }
  function niceStep(span: number, n: number): number {
    const raw = span / n, p = Math.pow(10, Math.floor(Math.log10(raw))), m = raw / p;
    return (m < 1.5 ? 1 : m < 3.5 ? 2 : m < 7.5 ? 5 : 10) * p;
  }
  function rangeText(t: PageTimeline, r: number): string {
    const R = t.ranges;
    const start = R.start[r]!, end = R.end[r]!, outcome = R.outcome[r]!, cpu = R.cpu[r]!, flags = R.flags[r]!, ret = R.ret[r]!, caller = R.caller[r]!;
    const lines = [
      t.strings[R.eventType[r]!] + ' · ' + OUTCOMES[outcome],
      'task ' + taskName(t.tasks[R.task[r]!]!) + (cpu !== null ? ' cpu ' + cpu : ''),
      'start ' + fmtUs(start) + ' (line ' + R.startLine[r] + ')' + (end !== null ? ', ' + (outcome === FAILED ? 'return' : 'end') + ' ' + fmtUs(end) + ' (line ' + R.endLine[r] + '), ' + fmtUs(end - start) : ''),
      'range ' + t.strings[R.range[r]!] + (flags !== null ? ' flags=' + flags : '') + (ret !== null ? ' ret=' + ret : ''),
    ];
    if (caller >= 0) lines.push('caller ' + t.strings[caller]);
    lines.push(plural(R.subscriberCalls[r]!, 'subscriber call'));
    return lines.join('\n');
  }
  function draw(): void {
    const box = $('timeline');
    clear(box);
    const t = tl;
    if (!t) { box.appendChild(el('p', 'muted', 'No timeline for this input.')); return; }
    const R = t.ranges;
    clampView(t.span);
    const W = width(), plotW = W - LABEL_W - PAD_R, H = AXIS_H + Math.max(1, rows.length) * ROW_H + 6;
    const span = view.b - view.a, k = plotW / span;
    const X = (at: number) => LABEL_W + (at - view.a) * k;
    const svg = sv('svg', { width: W, height: H, viewBox: '0 0 ' + W + ' ' + H, role: 'img' });
    titled(svg, 'invalidation ranges per task, ' + t.path);
    const clip = sv('clipPath', { id: 'plotclip' });
    clip.appendChild(sv('rect', { x: LABEL_W, y: 0, width: plotW, height: H }));
    svg.appendChild(clip);
    rows.forEach((_, i) => { if (i % 2 === 0) svg.appendChild(sv('rect', { x: 0, y: AXIS_H + i * ROW_H, width: W, height: ROW_H }, 'rowbg')); });
    const plot = sv('g', { 'clip-path': 'url(#plotclip)' });
    svg.appendChild(plot);
    // axis
    const step = niceStep(span, Math.max(2, Math.floor(plotW / 110)));
    for (let at = Math.ceil(view.a / step) * step; at <= view.b; at += step) {
      const x = X(at);
      plot.appendChild(sv('line', { x1: x, x2: x, y1: AXIS_H - 6, y2: H, stroke: '#eceff3' }));
      const tx = sv('text', { x: x + 3, y: AXIS_H - 10 }, 'tick');
      tx.textContent = fmtTick(at, step, Math.max(Math.abs(view.a), Math.abs(view.b)));
      plot.appendChild(tx);
    }
    // lost-event windows
    for (const w of t.losses) {
      if (w.e < view.a || w.s > view.b) continue;
      const r = sv('rect', { x: X(w.s), y: AXIS_H, width: Math.max(2, (w.e - w.s) * k), height: H - AXIS_H }, 'loss');
      titled(r, (w.why === 'lost-events' ? 'events lost' + (w.count !== null ? ' (' + w.count + ')' : '') : w.why) + (w.cpu !== null ? ' on cpu ' + w.cpu : '') + ', trace line ' + w.line);
      plot.appendChild(r);
    }
    let drawn = 0;
    rows.forEach((row, i) => {
      const y = AXIS_H + i * ROW_H;
      const g = sv('g', {});
      const label = sv('text', { x: 6, y: y + 15 }, 'lbl');
      const name = taskName(row.task);
      label.textContent = name.length > 24 ? name.slice(0, 23) + '…' : name;
      titled(g, name + (row.task.tgid !== undefined ? ' (tgid ' + row.task.tgid + ')' : '') + ', ' + plural(row.ranges.length, 'range'));
      g.appendChild(label);
      svg.appendChild(g);
      let lastPx = -1, lastOutcome = -1;
      for (const r of row.ranges) {
        const start = R.start[r]!, outcome = R.outcome[r]!;
        const end = R.end[r] ?? t.span;
        if (end < view.a || start > view.b) continue;
        const x0 = X(start);
        let w = X(end) - x0;
        const px = Math.floor(x0);
        if (w < 1) {
          if (px === lastPx && outcome === lastOutcome) continue; // sub-pixel ranges merge per pixel column
          w = 1;
        }
        lastPx = px; lastOutcome = outcome;
        const inset = Math.min(R.depth[r]!, 3) * 2;
        // A range with no end runs to the end of the capture: a strip along the top, so the row's later ranges stay visible.
        const rect = outcome === OPEN
          ? sv('rect', { x: x0, y: y + 2, width: w, height: 5, 'data-r': R.startLine[r]! }, 'r1')
          : sv('rect', { x: x0, y: y + 3 + inset, width: w, height: ROW_H - 6 - inset * 2, 'data-r': R.startLine[r]! }, 'r' + outcome);
        rect.addEventListener('mouseenter', () => { if (pinned === null) $('range-detail').textContent = rangeText(t, r); });
        rect.addEventListener('click', (ev) => { ev.stopPropagation(); pinned = r; $('range-detail').textContent = rangeText(t, r); });
        plot.appendChild(rect);
        drawn++;
      }
    });
    // findings
    for (const f of data.findings) {
      if (f.input !== cur || f.t === null || f.t < view.a || f.t > view.b) continue;
      if (!knownBox.checked && f.known) continue;
      const i = rows.findIndex((row) => sameTask(row.task, f));
      if (i < 0) continue;
      const x = X(f.t), y = AXIS_H + i * ROW_H;
      const m = sv('path', { d: 'M' + x + ' ' + (y + 1) + ' l5 5 l-5 5 l-5 -5 z', 'data-k': f.k }, 'fmark' + (selected === f.k ? ' sel' : ''));
      titled(m, f.ruleId + ': ' + f.message);
      m.addEventListener('click', (ev) => { ev.stopPropagation(); selectFinding(f.k, false); });
      plot.appendChild(m);
      if (selected === f.k) plot.appendChild(sv('line', { x1: x, x2: x, y1: AXIS_H, y2: H, stroke: '#000', 'stroke-dasharray': '3 3' }));
    }
    box.appendChild(svg);
    box.setAttribute('data-drawn', String(drawn));
    $('tl-view').textContent = fmtUs(view.a) + ' … ' + fmtUs(view.b) + ' (' + fmtUs(span) + ' shown of ' + fmtUs(t.span) + ', trace clock +' + (t.t0 / 1e6).toFixed(6) + ' s)';
  }
  function focusFinding(f: PageFinding): void {
    if (f.input !== cur) { tlSel.value = String(f.input); useTimeline(f.input); }
    const t = tl;
    if (!t || f.t === null) return;
    const R = t.ranges;
    // Show the ranges the evidence lines belong to, with room around them.
    const lines = new Set(f.evidence.map((e) => e.line));
    let lo = f.t, hi = f.t;
    R.task.forEach((task, r) => {
      const endLine = R.endLine[r];
      if (!sameTask(t.tasks[task]!, f) || !(lines.has(R.startLine[r]!) || (endLine !== null && lines.has(endLine!)))) return;
      lo = Math.min(lo, R.start[r]!);
      hi = Math.max(hi, R.end[r] ?? R.start[r]!);
    });
    const w = Math.max(hi - lo, 20);
    view = { a: lo - w * 0.75, b: hi + w * 0.75 };
    draw();
  }
  function zoom(factor: number, at?: number): void {
    const a = view.a, b = view.b, c = at === undefined ? (a + b) / 2 : at;
    view = { a: c - (c - a) * factor, b: c + (b - c) * factor };
    draw();
  }
  $('zoom-in').addEventListener('click', () => { if (tl) zoom(0.5); });
  $('zoom-out').addEventListener('click', () => { if (tl) zoom(2); });
  $('zoom-reset').addEventListener('click', () => { if (tl) { view = { a: 0, b: tl.span }; draw(); } });
  const box = $('timeline');
  box.addEventListener('wheel', (ev) => {
    if (!tl || ev.shiftKey) return;
    const rect = box.getBoundingClientRect(), px = ev.clientX - rect.left;
    if (px < LABEL_W) return;
    ev.preventDefault();
    const at = view.a + (px - LABEL_W) / (width() - LABEL_W - PAD_R) * (view.b - view.a);
    zoom(Math.exp(ev.deltaY * 0.0015), at);
  }, { passive: false });
  let drag: { x: number; a: number; b: number; moved: boolean } | null = null;
  box.addEventListener('mousedown', (ev) => { if (tl) drag = { x: ev.clientX, a: view.a, b: view.b, moved: false }; });
  window.addEventListener('mousemove', (ev) => {
    if (!drag) return;
    const dx = ev.clientX - drag.x;
    if (Math.abs(dx) > 2) drag.moved = true;
    if (!drag.moved) return;
    const d = dx / (width() - LABEL_W - PAD_R) * (drag.b - drag.a);
    view = { a: drag.a - d, b: drag.b - d };
    draw();
  });
  window.addEventListener('mouseup', () => { drag = null; });
  box.addEventListener('click', () => { pinned = null; });
  let resizeTimer: ReturnType<typeof setTimeout> | undefined;
  window.addEventListener('resize', () => { clearTimeout(resizeTimer); resizeTimer = setTimeout(() => { if (tl) draw(); }, 100); });
  const first = data.timelines.findIndex((t) => !!t);
  useTimeline(first);
  if (first >= 0) tlSel.value = String(first);
}
