/**
 * A trace.dat read like any other input, without trace-cmd: the per-CPU
 * records merged by timestamp (one page per CPU held at a time), each event
 * printed from its format as `trace-cmd report` prints it (with the latency
 * flags and nanosecond timestamps it can show) and handed to the trace-cmd
 * report parser, so fields, probe sites and stacks are read by one mechanism
 * whichever way the capture arrives. Records are located as
 * `file.dat:cpuN@0xOFFSET` (the offset in that CPU's uncompressed ring-buffer
 * data); their line number is the record's index in merged order.
 */
import { basename } from 'node:path';
import type { ParseInfo, Timestamp, TraceRecord } from '../../model/event';
import { TraceCmdParser } from '../../../parsers/tracecmd';
import type { EventFilter } from '../../../parsers/types';
import { DamagedInputError, type SourceInfo } from '../source';
import { DatError, openDat, type DatFile, type FileBytes } from './container';
import { fieldsText, formatPrintf, unescapeC, parseFormat, printEvent, readField, unpackBinaryArgs, type EventFormat, type RecordView, type Symbols } from './formats';
import { CpuRecords, pageLayout, type Lost, type RawRecord } from './pages';

/** The data of a trace.dat stops early (cut or corrupt): what was read before it is analysed. */
export class DamagedDatError extends DamagedInputError {
  constructor(source: SourceInfo, message: string) {
    super(source, message);
    this.message = `${source.path}: ${message} (after ${source.lines} records): copy the file again from the traced machine, or record again`;
  }
}

/** kallsyms text as a sorted address table (parsed on first use). */
class Kallsyms implements Symbols {
  private addrs: bigint[] | undefined;
  private names: string[] = [];
  constructor(private readonly text: string) {}
  lookup(addr: bigint): { name: string; offset: bigint } | undefined {
    if (this.addrs === undefined) this.load();
    const a = this.addrs as bigint[];
    let lo = 0;
    let hi = a.length - 1;
    if (hi < 0 || addr < a[0]) return undefined;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (a[mid] <= addr) lo = mid;
      else hi = mid - 1;
    }
    const offset = addr - a[lo];
    // Past the last symbol by more than any function is long: not a kernel text address.
    return offset > 0x100000n ? undefined : { name: this.names[lo], offset };
  }
  private load(): void {
    const rows: Array<[bigint, string]> = [];
    for (const line of this.text.split('\n')) {
      const m = /^([0-9a-fA-F]+) [tTwW] (\S+)/.exec(line);
      if (m) rows.push([BigInt('0x' + m[1]), m[2]]);
    }
    rows.sort((x, y) => (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0));
    this.addrs = rows.map((r) => r[0]);
    this.names = rows.map((r) => r[1]);
  }
}

/** One trace.dat opened for merging: its formats, tasks and per-CPU record streams. */
export class DatInput {
  readonly dat: DatFile;
  private readonly bytes: FileBytes;
  readonly name: string;
  readonly cpus: CpuRecords[];
  readonly formats = new Map<number, EventFormat>();
  private readonly comms = new Map<number, string>();
  readonly symbols: Symbols;
  private readonly view: RecordView;
  /** trace_printk() format strings by address (printk_formats), parsed on first use. */
  private printkFormats: Map<bigint, string> | undefined;

  constructor(path: string, displayName: string) {
    const { dat, bytes } = openDat(path);
    this.dat = dat;
    this.bytes = bytes;
    this.name = displayName;
    for (const f of dat.formats) {
      const ev = parseFormat(f.system, f.text);
      if (ev) this.formats.set(ev.id, ev);
    }
    for (const line of dat.cmdlines.split('\n')) {
      const m = /^(\d+) (.*)$/.exec(line);
      if (m) this.comms.set(Number(m[1]), m[2]);
    }
    this.symbols = new Kallsyms(dat.kallsyms);
    this.view = { data: Buffer.alloc(0), le: dat.littleEndian, longSize: dat.longSize };
    const layout = pageLayout(dat);
    this.cpus = dat.buffers.flatMap((b) => b.cpus.filter((c) => c.size > 0).map((c) => new CpuRecords(bytes, dat, c, b.compressed, layout)));
  }

  close(): void {
    this.bytes.close();
  }

  /**
   * Whether timestamps are ns: every trace clock but the raw counters
   * (`counter`, and `x86-tsc` unless the file says how to convert it), whose
   * values are printed as the integers they are.
   */
  get nanoseconds(): boolean {
    const clock = this.dat.buffers[0]?.clock ?? this.dat.options.clock;
    return !(clock === 'counter' || (clock === 'x86-tsc' && this.dat.options.tsc2nsec === undefined));
  }

  /** The record's timestamp in ns: moved onto the host's clock (a guest's TIME_SHIFT), then the file's TSC conversion and offset, in trace-cmd's order. */
  nsOf(raw: bigint, cpu: number): bigint {
    const o = this.dat.options;
    let ts = o.timeShift === undefined ? raw : o.timeShift.apply(raw, cpu);
    if (o.tsc2nsec !== undefined) ts = ((ts * BigInt(o.tsc2nsec.mult)) >> BigInt(o.tsc2nsec.shift)) + o.tsc2nsec.offset;
    if (o.offset !== undefined) ts += o.offset;
    return ts;
  }

  /** The report lines of one record: `comm-pid [cpu] flags sec.nsec: name: payload` (and a stack's frames). */
  lines(r: RawRecord, ns: bigint): string[] {
    const d = r.data;
    const le = this.dat.littleEndian;
    if (d.length < 8) return [`<...>-0 [${pad3(r.cpu)}] ${this.nanoseconds ? stamp(ns) : ns.toString()}: unknown: a ${d.length}-byte record, too short for an event`];
    const type = le ? d.readUInt16LE(0) : d.readUInt16BE(0);
    const pid = le ? d.readInt32LE(4) : d.readInt32BE(4);
    const comm = pid === 0 ? '<idle>' : this.comms.get(pid) ?? '<...>';
    const head = `${comm}-${pid} [${pad3(r.cpu)}] ${latencyFlags(d[2], d[3])} ${this.nanoseconds ? stamp(ns) : ns.toString()}:`;
    const ev = this.formats.get(type);
    if (!ev) return [`${head} unknown_event_${type}: the file has no format for event id ${type}`];
    this.view.data = d;
    if (ev.system === 'ftrace' && ev.name === 'kernel_stack') return [`${head} kernel_stack: <stack trace >`, ...this.stackFrames(ev)];
    return [`${head} ${ev.name}: ${this.payload(ev)}`];
  }

  private payload(ev: EventFormat): string {
    const v = this.view;
    // What trace-cmd's plugins print for these events instead of their print fmt.
    if (ev.system === 'tlb' && ev.name === 'tlb_flush' && ev.byName.has('pages') && ev.byName.has('reason')) {
      const reason = readField(ev.byName.get('reason')!, v);
      const pages = BigInt.asIntN(64, readField(ev.byName.get('pages')!, v) as bigint);
      // The plugin names the four reasons of its time; a later one (remote ipi send, 4) prints empty, as trace-cmd prints it.
      const names = ['flush on task switch', 'remote shootdown', 'local shootdown', 'local mm shootdown'];
      return `pages=${pages} reason=${names[Number(reason)] ?? ''} (${reason})`;
    }
    let text: string;
    try {
      text = ev.system === 'ftrace' && (ev.name === 'bprint' || ev.name === 'bputs') ? this.printk(ev) : printEvent(ev, v, this.symbols);
    } catch {
      text = fieldsText(ev, v);
    }
    if (ev.system === 'kmem' && ev.byName.has('call_site') && /^(kmalloc|kmalloc_node|kmem_cache_alloc|kmem_cache_alloc_node|kfree|kmem_cache_free)$/.test(ev.name)) {
      const site = this.symbols.lookup(readField(ev.byName.get('call_site')!, v) as bigint);
      if (site) text = `(${site.name}+0x${site.offset.toString(16)}) ${text}`;
    }
    return text.replace(/\n+$/, '').replace(/\n/g, '\\n');
  }

  /**
   * trace_printk() and trace_puts() records hold the address of their format
   * (or string) in the kernel, found in the file's printk formats; bprint's
   * arguments are packed after it (unpackBinaryArgs).
   */
  private printk(ev: EventFormat): string {
    const v = this.view;
    if (this.printkFormats === undefined) {
      this.printkFormats = new Map();
      for (const m of this.dat.printk.matchAll(/^0x([0-9a-fA-F]+) : "(.*)"$/gm)) this.printkFormats.set(BigInt('0x' + m[1]), unescapeC(m[2]));
    }
    const ipField = ev.byName.get('ip');
    const ptrField = ev.byName.get(ev.name === 'bprint' ? 'fmt' : 'str');
    if (!ipField || !ptrField) throw new Error(`${ev.name} without its ip and format fields`);
    const ip = this.symbols.lookup(readField(ipField, v) as bigint);
    const fmt = this.printkFormats.get(readField(ptrField, v) as bigint);
    if (fmt === undefined) throw new Error('a trace_printk format the file does not hold');
    const buf = ev.byName.get('buf');
    const text = ev.name === 'bputs' || !buf ? fmt : formatPrintf(fmt, unpackBinaryArgs(fmt, v.data.subarray(buf.offset), v.le, v.longSize), v.longSize, this.symbols);
    return `${ip?.name ?? '0x' + (readField(ipField, v) as bigint).toString(16)}: ${text}`;
  }

  private stackFrames(ev: EventFormat): string[] {
    const f = ev.byName.get('caller');
    if (!f) return [];
    const d = this.view.data;
    const w = this.dat.longSize;
    const out: string[] = [];
    // `size`: the frames the kernel saved (the record may be padded past them).
    const sizeField = ev.byName.get('size');
    const saved = sizeField ? Number(readField(sizeField, this.view)) : Infinity;
    for (let o = f.offset; o + w <= d.length && out.length < saved; o += w) {
      const a = w === 8 ? (this.view.le ? d.readBigUInt64LE(o) : d.readBigUInt64BE(o)) : BigInt(this.view.le ? d.readUInt32LE(o) : d.readUInt32BE(o));
      if (a === 0n || a === (1n << BigInt(w * 8)) - 1n) break;
      const s = this.symbols.lookup(a);
      out.push(`=> ${s ? s.name : `0x${a.toString(16)}`} (${a.toString(16).padStart(w * 2, '0')})`);
    }
    return out;
  }
}

/** A CPUSTAT option (per_cpu/cpuN/stats as trace-cmd saved it): the CPU, its overrun and dropped events, its entries. */
function cpuStat(text: string): { cpu: number; overrun: number; dropped: number; entries?: number } | undefined {
  const get = (key: string) => new RegExp(`^${key}:\\s*(\\d+)`, 'm').exec(text)?.[1];
  const cpu = get('CPU');
  if (cpu === undefined) return undefined;
  const entries = get('entries');
  return { cpu: Number(cpu), overrun: Number(get('overrun') ?? 0), dropped: Number(get('dropped events') ?? 0), ...(entries !== undefined ? { entries: Number(entries) } : {}) };
}

function pad3(n: number): string {
  return String(n).padStart(3, '0');
}

function stamp(ns: bigint): string {
  return `${ns / 1000000000n}.${(ns % 1000000000n).toString().padStart(9, '0')}`;
}

/** The latency flags libtraceevent prints from common_flags and common_preempt_count (5 columns, as on 6.x). */
function latencyFlags(flags: number, pc: number): string {
  const irq = flags & 0x02 ? 'X' : flags & 0x01 ? (flags & 0x80 ? 'D' : 'd') : flags & 0x80 ? 'b' : '.';
  const resched = flags & 0x04 ? (flags & 0x20 ? 'N' : 'n') : flags & 0x20 ? 'p' : '.';
  const nmi = flags & 0x40;
  const hard = flags & 0x08;
  const soft = flags & 0x10;
  const ctx = nmi && hard ? 'Z' : nmi ? 'z' : hard && soft ? 'H' : hard ? 'h' : soft ? 's' : '.';
  const depth = pc & 0x0f;
  const migrate = (pc >> 4) & 0x0f;
  return `${irq}${resched}${ctx}${depth ? depth.toString(16) : '.'}${migrate ? migrate.toString(16) : '.'}`;
}

export interface DatReadResult {
  format: string;
  info: ParseInfo;
  source: SourceInfo;
}

/**
 * Read trace.dat files (one, or the host's and guests' of one capture, each
 * then a machine of its own) into `onRecord`, merged by timestamp.
 * Throws a DatError for a file that cannot be read at all, and a
 * DamagedDatError (with what was read before, as `partial`) for one whose
 * data stops early.
 */
export function readTraceDat(paths: readonly string[], displayNames: readonly string[], onRecord: (r: TraceRecord) => void, filter?: EventFilter, onProgress?: DatProgress): DatReadResult {
  const inputs: DatInput[] = [];
  try {
    paths.forEach((p, i) => inputs.push(new DatInput(p, displayNames[i])));
    return merge(inputs, onRecord, filter, onProgress);
  } finally {
    for (const i of inputs) i.close();
  }
}

/**
 * How far the reading is: `done` of `total` bytes of ring-buffer data (every CPU of every file),
 * after `records` records. Called every PROGRESS_EVERY records: the reading is synchronous, so a
 * progress bar is drawn from here or not at all.
 */
export type DatProgress = (done: number, total: number, records: number) => void;
const PROGRESS_EVERY = 4096;

function merge(inputs: DatInput[], onRecord: (r: TraceRecord) => void, filter: EventFilter | undefined, onProgress?: DatProgress): DatReadResult {
  const several = inputs.length > 1;
  const display = several ? inputs.map((i) => i.name).join(' + ') : inputs[0].name;
  let where = display;
  const parser = new TraceCmdParser({
    file: display,
    sink: (rec) => {
      // Events and unreadable records point at their record in the file (the parser only knows the index).
      if (rec.kind === 'event' || rec.kind === 'unreadable') rec.src = { file: where, line: rec.src.line };
      onRecord(rec);
    },
    filter,
  });
  // A tag per file in a host+guest capture: the parser keeps each machine's pids and CPUs apart.
  const tags = inputs.map((i) => (several ? `${basename(i.name)}: ` : ''));
  inputs.forEach((inp, k) => {
    // Several files: the parser learns each one's tag from its `NAME: cpus=N` line, as in a multi-file report.
    if (several) parser.push(`${tags[k]}cpus=${inp.dat.cpus}`, 0, true);
    const o = inp.dat.options;
    onRecord({
      kind: 'header', cpus: inp.dat.cpus, buffers: inp.dat.buffers.map((b) => b.name),
      ...(inp.dat.buffers[0]?.clock ?? o.clock ? { clock: inp.dat.buffers[0]?.clock ?? o.clock } : {}),
      ...(o.uname !== undefined ? { uname: o.uname } : {}),
      ...(o.cpuStats.length > 0 ? { bufferStats: o.cpuStats.map(cpuStat).filter((x) => x !== undefined) } : {}),
      recorder: `trace-cmd${o.traceCmdVersion !== undefined ? ` ${o.traceCmdVersion}` : ''} (trace.dat v${inp.dat.version}${inp.dat.compression !== 'none' ? `, ${inp.dat.compression}` : ''})`,
      src: { file: inp.name, line: 0 },
    });
  });
  type Head = { input: number; cpu: CpuRecords; rec: RawRecord; ns: bigint };
  const heads: Head[] = [];
  const lastTs = new Map<string, Timestamp>();
  let index = 0;
  const advance = (input: number, cpu: CpuRecords): void => {
    for (;;) {
      const r = cpu.next();
      if (r === undefined) return;
      if ('ts' in r) {
        heads.push({ input, cpu, rec: r, ns: inputs[input].nsOf(r.ts, r.cpu) });
        return;
      }
      lost(input, r);
    }
  };
  const lost = (input: number, l: Lost): void => {
    parser.info.lostMarkers++;
    if (l.count !== undefined) parser.info.lostEvents += l.count;
    const after = lastTs.get(`${input}/${l.cpu}`);
    onRecord({
      kind: 'lost', cpu: l.cpu, ...(l.count !== undefined ? { count: l.count } : {}), ...(after ? { after } : {}),
      ...(several ? { machine: basename(inputs[input].name) } : {}),
      src: { file: `${inputs[input].name}:cpu${l.cpu}@0x${l.at.toString(16)}`, line: index },
    });
  };
  inputs.forEach((inp, k) => inp.cpus.forEach((c) => advance(k, c)));
  const allCpus = inputs.flatMap((i) => i.cpus);
  const total = allCpus.reduce((n, c) => n + c.cpu.size, 0);
  while (heads.length > 0) {
    if (onProgress !== undefined && index % PROGRESS_EVERY === 0) onProgress(allCpus.reduce((n, c) => n + c.consumed, 0), total, index);
    let best = 0;
    for (let i = 1; i < heads.length; i++) if (heads[i].ns < heads[best].ns) best = i;
    const h = heads[best];
    heads.splice(best, 1);
    const inp = inputs[h.input];
    index++;
    where = `${inp.name}:cpu${h.rec.cpu}@0x${h.rec.at.toString(16)}`;
    const lines = inp.lines(h.rec, h.ns);
    for (const l of lines) parser.push(tags[h.input] + l, index, true);
    const sec = h.ns / 1000000000n;
    lastTs.set(`${h.input}/${h.rec.cpu}`, inp.nanoseconds
      ? { raw: stamp(h.ns), sec: Number(sec), nsec: Number(h.ns - sec * 1000000000n), unit: 'seconds' }
      : { raw: h.ns.toString(), sec: Number(sec), nsec: Number(h.ns - sec * 1000000000n), unit: 'counter' });
    advance(h.input, h.cpu);
  }
  parser.end();
  // Lines are what was printed; a trace.dat has records: count those.
  parser.info.lines = index;
  const source: SourceInfo = {
    path: display,
    compression: 'none',
    bytesRead: inputs.reduce((n, i) => n + i.dat.fileSize, 0),
    bytesText: 0,
    lines: index,
  };
  const result: DatReadResult = { format: 'trace.dat', info: parser.info, source };
  // The error names the input; with several files, each damage names its file.
  const damage = inputs.flatMap((i) => i.cpus.map((c) => c.damage).filter((d): d is string => d !== undefined).map((d) => (several ? `${i.name}: ${d}` : d)));
  if (damage.length > 0) {
    const err = new DamagedDatError(source, damage.join('; '));
    err.partial = { path: display, ...result };
    throw err;
  }
  return result;
}

export { DatError };
