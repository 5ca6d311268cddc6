import type { Command } from 'commander';
import type { TraceEvent, TraceRecord } from '../model/event';
import { readTrace } from '../io/read-trace';
import { parseCsvColumns, reportUnreadable, UsageError } from './common';
import { termText } from '../report/terminal';

/** The stable JSON shape of one event (`mntrace events`). */
export function eventToJson(ev: TraceEvent): Record<string, unknown> {
  const o: Record<string, unknown> = {
    file: ev.src.file,
    line: ev.src.line,
    ts: ev.ts.raw,
    cpu: ev.cpu ?? null,
    pid: ev.pid,
    tgid: ev.tgid ?? null,
    comm: ev.comm,
    event: ev.name,
  };
  if (ev.group !== undefined) o.group = ev.group;
  if (ev.machine !== undefined) o.machine = ev.machine;
  if (ev.ctx) {
    const c = ev.ctx;
    o.flags = {
      raw: c.raw, irqsOff: c.irqsOff, bhOff: c.bhOff, needResched: c.needResched,
      hardirq: c.hardirq, softirq: c.softirq, nmi: c.nmi, preemptDepth: c.preemptDepth, migrateDisable: c.migrateDisable,
      ...(c.irqsUnknown ? { irqsUnknown: true } : {}),
      ...(c.extra !== undefined ? { extra: c.extra } : {}),
    };
  }
  if (ev.probe) o.probe = ev.probe;
  o.fields = ev.fields;
  o.payload = ev.payload;
  if (ev.stack) o.stack = ev.stack;
  if (ev.userStack) o.userStack = ev.userStack;
  return o;
}

function recordToJson(r: TraceRecord): Record<string, unknown> {
  if (r.kind === 'event') return eventToJson(r);
  const { src, ...rest } = r;
  return { record: r.kind, file: src.file, line: src.line, ...rest, ...(r.kind === 'lost' && r.after ? { after: r.after.raw } : {}) };
}

export function registerEventsCommand(program: Command): void {
  program
    .command('events')
    .description('print the normalised events of a trace as JSON lines (one object per event)')
    .argument('<file>', 'trace file, or - for stdin (gzip is recognised)')
    .option('--input-format <name>', 'skip detection and read the input as this format')
    .option('--csv-columns <map>', 'CSV column names for ts,cpu,pid,tid,comm,event,args when an export differs, e.g. ts=timestamp_ns,event=name')
    .option('--all', 'also print coverage records (header, lost events, buffer started) and unreadable lines')
    .option('--show-unreadable', 'list every unreadable line on stderr (default: the first 10)')
    .action(async (file: string, opts: { inputFormat?: string; csvColumns?: string; all?: boolean; showUnreadable?: boolean }) => {
      if (!file) throw new UsageError('events needs a trace file');
      const csvColumns = parseCsvColumns(opts.csvColumns);
      const out = new JsonLinesWriter();
      const unreadable: TraceRecord[] = [];
      const result = await readTrace(file, (r) => {
        if (r.kind === 'event') out.write(eventToJson(r));
        else {
          if (r.kind === 'unreadable') unreadable.push(r);
          if (opts.all) out.write(recordToJson(r));
        }
      }, { format: opts.inputFormat, csvColumns });
      await out.close();
      process.stderr.write(
        `${termText(result.path)}: ${result.format}, ${result.info.lines} lines, ${result.info.events} events, ${result.info.unreadable} unreadable` +
          (result.info.lostEvents ? `, ${result.info.lostEvents} events lost (${result.info.lostMarkers} markers)` : '') +
          (result.info.truncated ? ', file cut off mid-line' : '') + '\n',
      );
      reportUnreadable(unreadable.filter((r) => r.kind === 'unreadable'), !!opts.showUnreadable);
    });
}

/**
 * Buffered stdout writer. On Linux, writes to files and pipes are synchronous,
 * so memory stays flat; each flush's callback is kept so close() resolves only
 * when everything has been handed to the OS (a write callback always fires,
 * unlike waiting for 'drain').
 */
export class JsonLinesWriter {
  private buf: string[] = [];
  private size = 0;
  private last: Promise<void> = Promise.resolve();

  write(obj: unknown): void {
    const s = JSON.stringify(obj) + '\n';
    this.buf.push(s);
    this.size += s.length;
    if (this.size > 1 << 16) this.flush();
  }

  private flush(): void {
    if (this.buf.length === 0) return;
    const chunk = this.buf.join('');
    this.buf = [];
    this.size = 0;
    this.last = new Promise((resolve) => {
      process.stdout.write(chunk, () => resolve());
    });
  }

  async close(): Promise<void> {
    this.flush();
    await this.last;
  }
}
