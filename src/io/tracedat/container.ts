/**
 * trace-cmd's binary capture (`trace.dat`), file versions 6 and 7: the
 * container. Reads the initial header, the metadata (header page and event
 * formats, kallsyms, printk formats, saved command lines), the options
 * (clock, CPU count, uname, trace-cmd version, buffer instances, host/guest
 * identifiers) and where each CPU's ring-buffer pages are. The pages
 * themselves are streamed one at a time (pages.ts), never loaded whole.
 *
 * Layout (trace-cmd's Documentation/trace-cmd/trace-cmd.dat.v6.txt and .v7.txt):
 *   "\x17\x08Dtracing" version "\0" endian(1) long-size(1) page-size(4)
 *   v6: header_page, header_event, ftrace formats, event formats, kallsyms,
 *       printk formats, cmdlines, CPU count, [options], "flyrecord" + per-CPU offset/size
 *   v7: compression "name\0version\0", offset of the first options section;
 *       every other part is a section (u16 id, u16 flags, u32 string id,
 *       u64 size, then the data, zstd/zlib compressed when flags bit 0 is set)
 *       that an option points to.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { inflateSync } from 'node:zlib';
import { decompress as zstdDecompress } from 'fzstd';
import { DatError } from './errors';
import { TimeShift } from './timeshift';

export { DatError };

export const DAT_MAGIC = Buffer.from([0x17, 0x08, 0x44, ...Buffer.from('tracing')]);

export interface CpuData {
  cpu: number;
  /** Where this CPU's data starts in the file, and how many bytes it takes there. */
  offset: number;
  size: number;
}

export interface BufferInstance {
  /** '' for the top instance. */
  name: string;
  clock?: string;
  cpus: CpuData[];
  /** Compressed in chunks (v7 with a compression algorithm). */
  compressed: boolean;
}

export interface DatOptions {
  date?: string;
  clock?: string;
  uname?: string;
  /** trace-cmd's version that recorded the file. */
  traceCmdVersion?: string;
  cpuCount?: number;
  traceId?: bigint;
  /** Timestamp offset added on reading (OFFSET option), in ns. */
  offset?: bigint;
  /** TSC to ns conversion (TSC2NSEC option). */
  tsc2nsec?: { mult: number; shift: number; offset: bigint };
  /** Guests traced with this host (GUEST options). */
  guests: Array<{ name: string; traceId: bigint; cpus: number }>;
  /** Time-sync with the host (TIME_SHIFT option): a guest's clock moved onto the host's. */
  timeShift?: TimeShift;
  /** Per-CPU ring-buffer statistics as recorded (CPUSTAT). */
  cpuStats: string[];
}

export interface DatFile {
  path: string;
  version: number;
  littleEndian: boolean;
  longSize: number;
  pageSize: number;
  /** 'none' or the algorithm (zstd, zlib) with its version. */
  compression: string;
  headerPage: string;
  headerEvent: string;
  /** Format files: the ftrace ones, then every other system's. */
  formats: Array<{ system: string; text: string }>;
  kallsyms: string;
  printk: string;
  cmdlines: string;
  cpus: number;
  options: DatOptions;
  buffers: BufferInstance[];
  /** Bytes in the file. */
  fileSize: number;
}

/** Positional reads of a file with bounds checks: a cut file is a DatError saying where. */
export class FileBytes {
  readonly fd: number;
  readonly size: number;
  constructor(readonly path: string) {
    this.fd = openSync(path, 'r');
    this.size = fstatSync(this.fd).size;
  }
  read(pos: number, len: number, what: string): Buffer {
    if (pos < 0 || pos + len > this.size) throw new DatError(`the file ends before ${what} (needs bytes ${pos}..${pos + len}, the file has ${this.size})`, pos);
    const b = Buffer.allocUnsafe(len);
    let got = 0;
    while (got < len) {
      const n = readSync(this.fd, b, got, len - got, pos + got);
      if (n === 0) throw new DatError(`the file ends before ${what}`, pos + got);
      got += n;
    }
    return b;
  }
  close(): void {
    closeSync(this.fd);
  }
}

/** A cursor over bytes in memory (a section, an option, or the v6 metadata read piece by piece from the file). */
export class Cursor {
  pos = 0;
  constructor(private readonly src: { get(pos: number, len: number, what: string): Buffer }, private readonly le: boolean, start = 0) {
    this.pos = start;
  }
  bytes(len: number, what: string): Buffer {
    const b = this.src.get(this.pos, len, what);
    this.pos += len;
    return b;
  }
  u16(what: string): number {
    const b = this.bytes(2, what);
    return this.le ? b.readUInt16LE(0) : b.readUInt16BE(0);
  }
  u32(what: string): number {
    const b = this.bytes(4, what);
    return this.le ? b.readUInt32LE(0) : b.readUInt32BE(0);
  }
  u64(what: string): bigint {
    const b = this.bytes(8, what);
    return this.le ? b.readBigUInt64LE(0) : b.readBigUInt64BE(0);
  }
  i64(what: string): bigint {
    const b = this.bytes(8, what);
    return this.le ? b.readBigInt64LE(0) : b.readBigInt64BE(0);
  }
  /** A u64 used as a size or offset (must fit a JS number). */
  n64(what: string): number {
    const v = this.u64(what);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new DatError(`${what} is ${v}: not a size or offset`, this.pos - 8);
    return Number(v);
  }
  cstr(what: string): string {
    const out: number[] = [];
    for (;;) {
      const c = this.bytes(1, what)[0];
      if (c === 0) return Buffer.from(out).toString('utf8');
      out.push(c);
      if (out.length > 4096) throw new DatError(`${what} is not a terminated string`, this.pos);
    }
  }
  text(len: number, what: string): string {
    return this.bytes(len, what).toString('utf8');
  }
}

const fileSource = (f: FileBytes) => ({ get: (pos: number, len: number, what: string) => f.read(pos, len, what) });
export const bufSource = (b: Buffer, name: string, base: number) => ({
  get(pos: number, len: number, what: string): Buffer {
    if (pos + len > b.length) throw new DatError(`${name} ends before ${what}`, base);
    return b.subarray(pos, pos + len);
  },
});

const MAX_DECOMPRESSED = 256 << 20;

/** Decompress with the file's algorithm. */
export function decompressWith(algorithm: string, data: Buffer, size: number): Buffer {
  const name = algorithm.split(' ')[0];
  // A section or chunk is metadata or a few pages: a size past this is a corrupt header, not data to allocate for.
  if (size > MAX_DECOMPRESSED) throw new DatError(`a compressed block claims ${size} bytes uncompressed, more than any section or chunk holds`);
  if (name === 'zstd') return Buffer.from(zstdDecompress(data, new Uint8Array(size)));
  if (name === 'zlib') return inflateSync(data, { maxOutputLength: Math.max(size, 1) });
  throw new DatError(`compressed with ${name}, which mntrace cannot decompress (it reads zstd and zlib): \`trace-cmd convert --compression none\` first`);
}

export function isTraceDat(head: Buffer): boolean {
  return head.length >= DAT_MAGIC.length && head.subarray(0, DAT_MAGIC.length).equals(DAT_MAGIC);
}

/** Open and read a trace.dat's metadata. The caller closes `bytes` when done with the pages. */
export function openDat(path: string): { dat: DatFile; bytes: FileBytes } {
  const bytes = new FileBytes(path);
  try {
    return { dat: readMeta(bytes), bytes };
  } catch (err) {
    bytes.close();
    throw err;
  }
}

function readMeta(f: FileBytes): DatFile {
  const head = f.read(0, 10, 'the magic');
  if (!isTraceDat(head)) throw new DatError('not a trace-cmd trace.dat (no "\\x17\\x08Dtracing" magic)', 0);
  let c = new Cursor(fileSource(f), true, 10);
  const versionText = c.cstr('the file version');
  const version = Number(versionText);
  if (version !== 6 && version !== 7) throw new DatError(`trace.dat version ${JSON.stringify(versionText)}: mntrace reads versions 6 and 7`, 10);
  const endian = c.bytes(1, 'the endianness')[0];
  const longSize = c.bytes(1, 'the long size')[0];
  c = new Cursor(fileSource(f), endian === 0, c.pos);
  const pageSize = c.u32('the page size');
  if (pageSize < 256 || pageSize > 1 << 20 || (pageSize & (pageSize - 1)) !== 0) throw new DatError(`page size ${pageSize} is not a page size`, c.pos - 4);
  const dat: DatFile = {
    path: f.path, version, littleEndian: endian === 0, longSize, pageSize, compression: 'none',
    headerPage: '', headerEvent: '', formats: [], kallsyms: '', printk: '', cmdlines: '', cpus: 0,
    options: { guests: [], cpuStats: [] }, buffers: [], fileSize: f.size,
  };
  if (version === 6) readV6(f, c, dat);
  else readV7(f, c, dat);
  return dat;
}

function headerInfo(c: Cursor, dat: DatFile): void {
  if (c.text(12, 'header_page') !== 'header_page\0') throw new DatError('no "header_page" where the header info starts', c.pos - 12);
  dat.headerPage = c.text(c.n64('the header page size'), 'the header page');
  if (c.text(13, 'header_event') !== 'header_event\0') throw new DatError('no "header_event" after the header page', c.pos - 13);
  dat.headerEvent = c.text(c.n64('the header event size'), 'the header event');
}

function ftraceFormats(c: Cursor, dat: DatFile): void {
  const n = c.u32('the ftrace format count');
  for (let i = 0; i < n; i++) dat.formats.push({ system: 'ftrace', text: c.text(c.n64('an ftrace format size'), 'an ftrace format') });
}

function eventFormats(c: Cursor, dat: DatFile): void {
  const systems = c.u32('the event system count');
  for (let s = 0; s < systems; s++) {
    const system = c.cstr('an event system name');
    const n = c.u32(`the ${system} format count`);
    for (let i = 0; i < n; i++) dat.formats.push({ system, text: c.text(c.n64(`a ${system} format size`), `a ${system} format`) });
  }
}

function readV6(f: FileBytes, c: Cursor, dat: DatFile): void {
  headerInfo(c, dat);
  ftraceFormats(c, dat);
  eventFormats(c, dat);
  dat.kallsyms = c.text(c.u32('the kallsyms size'), 'kallsyms');
  dat.printk = c.text(c.u32('the printk formats size'), 'the printk formats');
  dat.cmdlines = c.text(c.n64('the saved cmdlines size'), 'the saved cmdlines');
  dat.cpus = c.u32('the CPU count');
  let tag = c.text(10, 'the options or data tag');
  const instances: Array<{ name: string; offset: number }> = [];
  if (tag === 'options  \0') {
    for (;;) {
      const id = c.u16('an option id');
      if (id === 0) break;
      const size = c.u32('an option size');
      const data = c.bytes(size, 'an option');
      option(id, data, dat, instances);
    }
    tag = c.text(10, 'the data tag');
  }
  if (tag === 'latency  \0') throw new DatError('a latency-tracer capture (its data is the trace text): `trace-cmd report` prints it', c.pos - 10);
  if (tag !== 'flyrecord\0') throw new DatError(`unknown data tag ${JSON.stringify(tag)} where "flyrecord" was expected`, c.pos - 10);
  dat.buffers.push({ name: '', clock: dat.options.clock, cpus: flyrecordCpus(c, dat.cpus), compressed: false });
  for (const inst of instances) {
    const ic = new Cursor(fileSource(f), dat.littleEndian, inst.offset);
    if (ic.text(10, `buffer ${inst.name}`) !== 'flyrecord\0') throw new DatError(`buffer instance ${inst.name} has no flyrecord data`, inst.offset);
    dat.buffers.push({ name: inst.name, clock: dat.options.clock, cpus: flyrecordCpus(ic, dat.cpus), compressed: false });
  }
}

function flyrecordCpus(c: Cursor, cpus: number): CpuData[] {
  const out: CpuData[] = [];
  for (let cpu = 0; cpu < cpus; cpu++) out.push({ cpu, offset: c.n64(`cpu${cpu}'s data offset`), size: c.n64(`cpu${cpu}'s data size`) });
  return out;
}

/** v7 section ids (the options point at them). */
const SECTION = { options: 0, headerInfo: 16, ftraceEvents: 17, eventFormats: 18, kallsyms: 19, printk: 20, cmdlines: 21, strings: 15 } as const;

function readV7(f: FileBytes, c: Cursor, dat: DatFile): void {
  const name = c.cstr('the compression name');
  const ver = c.cstr('the compression version');
  dat.compression = name === 'none' ? 'none' : `${name} ${ver}`.trim();
  let next = c.n64('the first options offset');
  const seen = new Set<number>();
  const sections: Array<{ id: number; offset: number }> = [];
  const buffers: Array<{ name: string; clock: string; offset: number; cpus: CpuData[] }> = [];
  while (next !== 0) {
    if (seen.has(next)) throw new DatError('the options sections loop', next);
    seen.add(next);
    const body = section(f, next, SECTION.options, dat);
    const oc = new Cursor(bufSource(body, 'an options section', next), dat.littleEndian);
    next = 0;
    while (oc.pos < body.length) {
      const id = oc.u16('an option id');
      const size = oc.u32('an option size');
      const data = oc.bytes(size, 'an option');
      const dc = new Cursor(bufSource(data, 'an option', next), dat.littleEndian);
      if (id === 0) {
        next = size >= 8 ? dc.n64('the next options offset') : 0;
        break;
      }
      if (id >= 16 && id <= 21) sections.push({ id, offset: dc.n64('a section offset') });
      else if (id === 3) {
        const offset = dc.n64('a buffer offset');
        const bname = dc.cstr('a buffer name');
        const clock = dc.cstr('a buffer clock');
        // trace-cmd 3.x writes the instance's page size here (documented layouts lack it): the CPU entries are 20 bytes each.
        if ((size - dc.pos) % 20 === 8) dc.u32('a buffer page size');
        const n = dc.u32('a buffer CPU count');
        const cpus: CpuData[] = [];
        for (let i = 0; i < n; i++) cpus.push({ cpu: dc.u32('a CPU id'), offset: dc.n64('a CPU data offset'), size: dc.n64('a CPU data size') });
        buffers.push({ name: bname, clock, offset, cpus });
      } else if (id === 22) {
        throw new DatError('a latency-tracer capture (its data is the trace text): `trace-cmd report` prints it', next);
      } else option(id, data, dat, []);
    }
  }
  for (const s of sections) {
    const body = section(f, s.offset, s.id, dat);
    const sc = new Cursor(bufSource(body, `section ${s.id}`, s.offset), dat.littleEndian);
    if (s.id === SECTION.headerInfo) headerInfo(sc, dat);
    else if (s.id === SECTION.ftraceEvents) ftraceFormats(sc, dat);
    else if (s.id === SECTION.eventFormats) eventFormats(sc, dat);
    else if (s.id === SECTION.kallsyms) dat.kallsyms = sc.text(sc.u32('the kallsyms size'), 'kallsyms');
    else if (s.id === SECTION.printk) dat.printk = sc.text(sc.u32('the printk formats size'), 'the printk formats');
    else if (s.id === SECTION.cmdlines) dat.cmdlines = sc.text(sc.n64('the saved cmdlines size'), 'the saved cmdlines');
  }
  if (dat.headerPage === '') throw new DatError('no header info section: the ring-buffer page layout is unknown');
  for (const b of buffers) {
    // The flyrecord section: its header says whether the CPU data is compressed (in chunks).
    const h = new Cursor(fileSource(f), dat.littleEndian, b.offset);
    h.u16('the buffer section id');
    const flags = h.u16('the buffer section flags');
    dat.buffers.push({ name: b.name, clock: b.clock || dat.options.clock, cpus: b.cpus, compressed: (flags & 1) !== 0 });
  }
  dat.cpus = dat.options.cpuCount ?? Math.max(0, ...dat.buffers.flatMap((b) => b.cpus.map((x) => x.cpu + 1)));
  if (dat.buffers.length === 0) throw new DatError('no trace data (no buffer option): the capture recorded nothing');
}

/** A v7 section's data (decompressed), checking its id. */
function section(f: FileBytes, offset: number, id: number, dat: DatFile): Buffer {
  const c = new Cursor(fileSource(f), dat.littleEndian, offset);
  const got = c.u16('a section id');
  if (got !== id) throw new DatError(`section at ${offset} has id ${got}, not ${id}`, offset);
  const flags = c.u16('a section flags');
  c.u32('a section description');
  const size = c.n64('a section size');
  if ((flags & 1) === 0) return c.bytes(size, `section ${id}`);
  const csize = c.u32('a compressed size');
  const usize = c.u32('an uncompressed size');
  try {
    return decompressWith(dat.compression, c.bytes(csize, `compressed section ${id}`), usize);
  } catch (err) {
    if (err instanceof DatError) throw err;
    throw new DatError(`section ${id} at ${offset} does not decompress: ${(err as Error).message}`, offset);
  }
}

function option(id: number, data: Buffer, dat: DatFile, instances: Array<{ name: string; offset: number }>): void {
  const c = new Cursor(bufSource(data, 'an option', 0), dat.littleEndian);
  const str = () => data.toString('utf8').replace(/\0[\s\S]*$/, '').trim();
  const o = dat.options;
  switch (id) {
    case 1: o.date = str(); break;
    case 2: o.cpuStats.push(str()); break;
    case 3: instances.push({ offset: c.n64('a buffer offset'), name: c.cstr('a buffer name') }); break;
    case 4: {
      // The trace_clock file: `[local] global counter ...`, the bracketed one in use.
      const t = str();
      o.clock = /\[(\S+)\]/.exec(t)?.[1] ?? t;
      break;
    }
    case 5: o.uname = str(); break;
    case 7: o.offset = BigInt(str() || '0'); break;
    case 8: o.cpuCount = c.u32('the CPU count'); break;
    case 9: o.traceCmdVersion = str(); break;
    case 11: o.traceId = c.u64('the trace id'); break;
    case 12: o.timeShift = TimeShift.parse(new Cursor(bufSource(data, 'the TIME_SHIFT option (host time sync)', 0), dat.littleEndian), data.length); break;
    case 13: {
      const name = c.cstr('a guest name');
      o.guests.push({ name, traceId: c.u64('a guest trace id'), cpus: c.u32('a guest CPU count') });
      break;
    }
    case 14: o.tsc2nsec = { mult: c.u32('the TSC multiplier'), shift: c.u32('the TSC shift'), offset: c.u64('the TSC offset') }; break;
    default: break; // HOOK, PROCMAPS, ...: nothing mntrace uses.
  }
}
