/**
 * Read one trace input end to end: bytes -> lines -> detected parser -> records.
 * This is the one streaming core behind `events`, `check` and the library API.
 */
import { inputName, type ParseInfo, type TraceRecord } from '../model/event';
import { detectFormat, explainUnrecognised, formatByName, formats, SNIFF_LINES, type FormatDescriptor } from '../../parsers/detect';
import type { EventFilter, ParserOptions, TraceParser } from '../../parsers/types';
import { accessSync, constants, statSync } from 'node:fs';
import { DamagedInputError, InputError, readLines, tooLongReason, type ByteLineSink, type LineHandler, type SourceInfo } from './source';
import { readLinesInWorker, WORKER_MIN_BYTES, type ParallelOptions, type SkipLineSink } from './worker-source';
import { datInput } from './tracedat/input';
import { DatError, readTraceDat } from './tracedat/reader';

export interface ReadOptions {
  /** Force a format instead of sniffing. */
  format?: string;
  /** Name to use in source locations (defaults to the path; `<stdin>` for `-`). */
  displayName?: string;
  onProgress?: (info: SourceInfo) => void;
  /** Build only the events the consumer needs (parsers that support it). */
  filter?: EventFilter;
  /** CSV: header names for the column roles (ParserOptions.csvColumns). */
  csvColumns?: ParserOptions['csvColumns'];
  /** Called between chunks; a returned promise holds reading until it settles (back-pressure for merging). */
  pause?: () => Promise<void> | undefined;
  /** Stop reading (live input, Ctrl-C): what was read so far is analysed. */
  signal?: AbortSignal;
  /** Live input: choose the format from the first chunk instead of waiting for SNIFF_LINES lines. */
  live?: boolean;
  /**
   * Read and scan a big file on a worker thread (see worker-source.ts): what
   * the worker needs to make the same decisions as `filter`. Used for regular
   * files of at least `minBytes` (default WORKER_MIN_BYTES), not for live input.
   */
  parallel?: ParallelOptions;
}

export interface ReadResult {
  path: string;
  format: string;
  source: SourceInfo;
  info: ParseInfo;
}

export async function readTrace(path: string, onRecord: (r: TraceRecord) => void, opts: ReadOptions = {}): Promise<ReadResult> {
  const file = opts.displayName ?? inputName(path);
  // trace-cmd's binary trace.dat (also gzip/zstd-compressed): read directly, records merged by time.
  const dat = path === '-' || (opts.format !== undefined && opts.format !== 'trace.dat') ? undefined : await datInput(path);
  if (dat) {
    try {
      const progress = opts.onProgress;
      const size = dat.size;
      const r = readTraceDat([dat.path], [file], onRecord, opts.filter, progress && ((done, total, records) => {
        // The bar measures the file as given: for a compressed one, the share of the data read so far.
        const part = total > 0 ? done / total : 0;
        progress({ path, compression: dat.compression, bytesRead: Math.round(part * size), bytesText: done, lines: records });
      }));
      return { path, ...r, source: { ...r.source, compression: dat.compression } };
    } catch (err) {
      if (err instanceof DatError) throw new InputError(`${file}: cannot read this trace.dat: ${err.message}`);
      throw err;
    } finally {
      dat.done();
    }
  }
  if (opts.format === 'trace.dat') throw new InputError(`${file} is not a trace-cmd trace.dat (no "\\x17\\x08Dtracing" magic)`);
  let parser: TraceParser | undefined;
  let forced: FormatDescriptor | undefined;
  if (opts.format) {
    forced = formatByName(opts.format);
    if (!forced) throw new InputError(`unknown input format '${opts.format}': expected one of ${[...formats().map((f) => f.name), 'trace.dat'].join(', ')}`);
    parser = forced.create({ file, sink: onRecord, filter: opts.filter, csvColumns: opts.csvColumns });
  }
  /** The first lines, held until the format is known: text, line, terminated, and the length of a line too long to read. */
  const held: Array<[string, number, boolean, number | undefined]> = [];
  /** What the sniffers see of the held lines (a line too long to read is not shown to them). */
  const sniffed = () => held.map((h) => (h[3] === undefined ? h[0] : ''));
  const give = (p: TraceParser, text: string, lineNo: number, terminated: boolean, tooLong: number | undefined) => {
    if (tooLong === undefined) p.push(text, lineNo, terminated);
    else p.pushUnreadable(text, lineNo, tooLongReason(tooLong));
  };
  const decide = () => {
    const desc = detectFormat(sniffed());
    if (!desc) {
      const lines = held.map((h) => h[0]);
      const what = explainUnrecognised(lines, file);
      if (what !== undefined) throw new InputError(`${file} is ${what}`);
      const sample = lines.find((l) => l.trim() !== '') ?? '';
      throw new InputError(
        `${file}: cannot tell what format this is (expected ${formats().map((f) => f.name).join(', ')}; ` +
          `first line: ${JSON.stringify(sample.slice(0, 120))}). Use --input-format to say.`,
      );
    }
    parser = desc.create({ file, sink: onRecord, filter: opts.filter, csvColumns: opts.csvColumns });
    for (const [t, n, term, long] of held) give(parser, t, n, term, long);
    held.length = 0;
  };
  const onLine: LineHandler = (text, lineNo, terminated, tooLong) => {
    if (parser) {
      give(parser, text, lineNo, terminated, tooLong);
      return;
    }
    held.push([text, lineNo, terminated, tooLong]);
    if (held.length >= SNIFF_LINES) decide();
  };
  const read = () => useWorker(path, opts)
    ? readLinesInWorker(path, opts.format, opts.parallel!, onLine, () => (parser && 'pushSkipped' in parser ? (parser as unknown as SkipLineSink) : undefined), opts.onProgress, opts.signal)
    : readLines(
        path,
        onLine,
        opts.onProgress,
        () => (parser && 'pushBytes' in parser ? (parser as unknown as ByteLineSink) : undefined),
        () => {
          if (opts.live && !parser && held.some((h) => h[0].trim() !== '') && detectFormat(sniffed())) decide();
          return opts.pause?.();
        },
        opts.signal,
      );
  let source: SourceInfo;
  try {
    source = await read();
  } catch (err) {
    // Compressed data that stops early: what was read before the damage is parsed to its end, and goes with the error.
    if (!(err instanceof DamagedInputError)) throw err;
    try {
      err.partial = finish(err.source);
    } catch {
      // The lines before the damage are not a trace either: the damage is still what to report.
    }
    throw err;
  }
  return finish(source);

  function finish(src: SourceInfo): ReadResult {
    if (!parser) {
      if (sniffed().every((t) => t.trim() === '')) {
        const p = (forced ?? formats()[0]).create({ file, sink: onRecord, filter: opts.filter, csvColumns: opts.csvColumns });
        for (const [t, n, term, long] of held) give(p, t, n, term, long);
        parser = p;
      } else decide();
    }
    const p = parser as TraceParser;
    p.end();
    return { path, format: p.format, source: src, info: p.info };
  }
}

/** A regular file big enough for the scan worker, read as a whole (not live, not paced by a merge). */
function useWorker(path: string, opts: ReadOptions): boolean {
  if (!opts.parallel || !opts.filter || opts.live || opts.pause || path === '-') return false;
  try {
    const st = statSync(path);
    if (!st.isFile() || st.size < (opts.parallel.minBytes ?? WORKER_MIN_BYTES)) return false;
    accessSync(path, constants.R_OK);
    return true;
  } catch {
    return false; // readLines reports the error
  }
}
