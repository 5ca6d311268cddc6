/**
 * The HTML report in a real browser (Debian's chromium driven by
 * playwright-core): findings render and filter, the timeline draws and zooms,
 * clicking a finding shows its evidence, and a task named like markup is
 * shown as text and runs nothing. Screenshots go to test-output/.
 * Skips, saying so, when /usr/bin/chromium is not installed.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { htmlData, renderHtml, jsonForScript } from '../src/report/html';
import { OUTCOME_CODE } from '../src/report/html-client';
import { caseTrace, REAL, reportFor, ROOT } from './report-helpers';
import { ruleMetas } from '../rules';

const CHROMIUM = '/usr/bin/chromium';
const OUT = join(ROOT, 'test-output');
const XSS = '<img src=x onerror=alert(1)>';
const skip = existsSync(CHROMIUM) ? false : `${CHROMIUM} is not installed (apt-get install -y chromium): the HTML report's browser test is skipped`;

async function writeReport(paths: string[], name: string): Promise<string> {
  const { report, timelines } = await reportFor(paths);
  const file = join(mkdtempSync(join(tmpdir(), 'mntrace-html-')), `${name}.html`);
  writeFileSync(file, renderHtml(report, timelines, { rules: ruleMetas }));
  return file;
}

/** missing-end with every kvmnotif task renamed to a string of markup (the task name is whatever the process chose). */
function xssTrace(): string {
  const text = readFileSync(caseTrace('missing-end'), 'utf8').replace(/^ {8}kvmnotif-147 /gm, `${XSS}-147 `);
  assert.ok(text.includes(XSS));
  const file = join(mkdtempSync(join(tmpdir(), 'mntrace-xss-')), 'trace.txt');
  writeFileSync(file, text);
  return file;
}

describe('HTML report (unit)', () => {
  it('embedded JSON cannot close its script element or start markup', () => {
    const s = jsonForScript({ a: '</script><script>alert(1)</script><!-- & \u2028\u2029' });
    assert.ok(!/[<>&\u2028\u2029]/.test(s), s);
    assert.deepEqual(JSON.parse(s), { a: '</script><script>alert(1)</script><!-- & \u2028\u2029' });
  });

  it('is one self-contained file: no external URL, one inline script locked by its hash', async () => {
    const html = readFileSync(await writeReport([xssTrace()], 'xss'), 'utf8');
    assert.ok(!/\b(src|href)=["']?(https?:)?\/\//i.test(html), 'no external resource');
    assert.ok(!html.includes(XSS), 'the task name only appears escaped');
    assert.match(html, /Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'sha256-[A-Za-z0-9+/=]+'/);
    assert.equal((html.match(/<script>/g) ?? []).length, 1);
  });
});

describe('HTML report data (unit)', () => {
  it('a timeline\'s ranges are named columns of one length, their strings and tasks indices into the timeline\'s tables', async () => {
    const { report, timelines } = await reportFor([caseTrace('failed-blockable-start')]);
    const data = htmlData(report, timelines, { rules: ruleMetas });
    const tl = data.timelines[0]!;
    const columns = Object.entries(tl.ranges);
    assert.equal(columns.length, 14);
    const n = tl.ranges.start.length;
    assert.ok(n > 0);
    for (const [name, column] of columns) assert.equal(column.length, n, `column ${name}`);
    // The blockable start that returned -11 (line 21) and was ended anyway (line 25).
    const failed = tl.ranges.outcome.indexOf(OUTCOME_CODE['end-after-failed']);
    assert.ok(failed >= 0, 'the failed start is a range');
    assert.deepEqual([tl.ranges.ret[failed], tl.ranges.startLine[failed], tl.ranges.endLine[failed]], ['-11', 21, 25]);
    assert.equal(tl.strings[tl.ranges.eventType[failed]!], 'MMU_NOTIFY_CLEAR');
    assert.equal(tl.tasks[tl.ranges.task[failed]!]!.comm, 'kvmnotif');
    assert.equal(data.rules.length, ruleMetas.length);
  });
});

describe('HTML report in chromium', { skip }, () => {
  let browser: Browser;
  let page: Page;
  const dialogs: string[] = [];
  const errors: string[] = [];

  before(async () => {
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    const { chromium } = require('playwright-core') as typeof import('playwright-core');
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    });
    page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    page.on('dialog', (d) => {
      dialogs.push(d.message());
      void d.dismiss();
    });
    page.on('pageerror', (e) => errors.push(String(e)));
    page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
    mkdirSync(OUT, { recursive: true });
  });

  after(async () => {
    await browser?.close();
  });

  it('the OOM capture: no findings, a verdict, the summary and a drawn timeline', async () => {
    const file = await writeReport([join(REAL, 'oom_reaper.trace.txt.gz')], 'oom');
    await page.goto(pathToFileURL(file).href);
    assert.equal(await page.textContent('#verdict'), 'OK');
    assert.match(await page.textContent('#findings') ?? '', /No findings/);
    assert.match(await page.textContent('#inputs') ?? '', /173 paired, 0 open, 0 failed, 0 orphan ends \(173 starts, 10 non-blocking\)/);
    const rects = await page.locator('#timeline svg rect.r0').count();
    assert.ok(rects > 0, 'range rectangles drawn');
    const labels = await page.locator('#timeline svg text.lbl').allTextContents();
    assert.ok(labels.includes('oom_reaper-30') && labels.includes('kswapd0-44'), labels.join(','));
    const before = await page.textContent('#tl-view');
    await page.click('#zoom-in');
    assert.notEqual(await page.textContent('#tl-view'), before, 'zooming changes the view');
    await page.click('#zoom-reset');
    await page.screenshot({ path: join(OUT, 'report-oom_reaper.png'), fullPage: true });
    assert.deepEqual(errors, []);
  });

  it('findings render, filter by rule and severity, and a click shows the evidence lines on the timeline', async () => {
    const trace = caseTrace('failed-blockable-start');
    const file = await writeReport([trace], 'bug');
    await page.goto(pathToFileURL(file).href);
    assert.equal(await page.textContent('#verdict'), 'FAIL');
    assert.equal(await page.locator('#findings li.finding').count(), 4);
    await page.selectOption('#filter-severity', 'info');
    assert.equal(await page.locator('#findings li.finding').count(), 1);
    await page.selectOption('#filter-severity', '');
    await page.selectOption('#filter-rule', 'subscriber-imbalance');
    assert.equal(await page.locator('#findings li.finding').count(), 2);
    await page.selectOption('#filter-rule', '');
    const item = page.locator('#findings li.finding', { hasText: 'failed-blockable-start' });
    await item.click();
    const evidence = await page.locator('#evidence li').allTextContents();
    assert.equal(evidence.length, 2);
    assert.ok(evidence[0].includes(`${trace}:24`) && evidence[0].includes('failed-return') && evidence[0].includes('ret=-11'), evidence[0]);
    assert.ok(evidence[1].includes(`${trace}:21`), evidence[1]);
    assert.equal(await page.locator('#timeline svg path.fmark.sel').count(), 1, 'the finding is marked on the timeline');
    assert.ok(await page.locator('#timeline svg rect.r3').count() >= 1, 'the failed range is drawn');
    await page.hover('#timeline svg rect.r3');
    const detail = await page.textContent('#range-detail') ?? '';
    assert.match(detail, /^MMU_NOTIFY_CLEAR · ended after a failed start\ntask kvmnotif-147 cpu 1\nstart \+?[\d.]+ [µm]?s \(line 21\), end [\d.]+ [µm]?s \(line 25\), [\d.]+ [µm]?s\nrange 0xff4d4553c041bb88 flags=1 ret=-11\n/);
    await page.screenshot({ path: join(OUT, 'report-failed-blockable-start.png'), fullPage: true });
    assert.deepEqual(errors, []);
  });

  it(`a task named ${XSS} is shown as text and runs nothing`, async () => {
    const file = await writeReport([xssTrace()], 'xss');
    await page.goto(pathToFileURL(file).href);
    await page.locator('#findings li.finding').first().click();
    await page.waitForTimeout(200);
    assert.deepEqual(dialogs, [], 'no alert ran');
    assert.equal(await page.evaluate('document.querySelectorAll("img").length'), 0, 'no img element was created');
    assert.ok((await page.textContent('#findings') ?? '').includes(`${XSS}-147`));
    assert.ok((await page.textContent('#detail') ?? '').includes(`${XSS}-147`));
    const label = await page.locator('#timeline svg text.lbl').first().textContent();
    assert.ok(label?.startsWith('<img src=x onerror='), String(label));
    await page.screenshot({ path: join(OUT, 'report-hostile-task-name.png'), fullPage: true });
    assert.deepEqual(errors, []);
  });
});
