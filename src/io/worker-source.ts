/**
 * Lines of a big trace file read on a second core (see scan-worker.ts): the
 * worker reads, decompresses, splits and classifies; this thread parses the
 * lines the analysis needs and accounts for the rest from five numbers each.
 * Callbacks see exactly what readLines would give them, in the same order.
 */
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { MessageChannel, Worker, type MessagePort } from 'node:worker_threads';
import { splitProbeSite } from '../../parsers/common';
import type { ContextFlags, PayloadKeys, ProbeSite } from '../model/event';
import { decodeFlagsCached } from '../model/flags';
import { EventRec, LineRec, RecordKind } from '../model/records';
import type { SemanticsOptions } from '../semantics';
import type { Role } from '../semantics/operations';
import { DamagedInputError, InputError, type ByteLineSink, type Compression, type LineHandler, type SourceInfo } from './source';

/** Bytes per chunk handed between the threads. */
export const CHUNK_BYTES = 2 << 20;
/** Chunks the worker may be ahead of this thread (bounds memory at about this many chunks). */
export const MAX_IN_FLIGHT = 4;
/** Files smaller than this are read on the main thread (starting a worker costs more than it saves). */
export const WORKER_MIN_BYTES = 16 << 20;

/** What the worker needs to make the same filter decisions as the main thread's parser. */
export interface ScanSpec {
  semantics: SemanticsOptions;
  /** Roles the analysis needs in full (Engine.neededRoles). */
  roles: Role[];
}

/** How to run the worker. `chunkBytes` and `share` exist for tests (chunk boundaries, mixed scanning). */
export interface ParallelOptions {
  spec: ScanSpec;
  /** Files from this size use the worker (default WORKER_MIN_BYTES). */
  minBytes?: number;
  /** Bytes per chunk (default CHUNK_BYTES). */
  chunkBytes?: number;
  /** Of every 8 lines, how many the worker scans to begin with (default 8; it adapts as it goes). */
  share?: number;
}

export interface ScanWorkerData {
  path: string;
  chunkBytes: number;
  share: number;
  /** The format named by the user (--input-format), if any. */
  format?: string;
  spec: ScanSpec;
  /** Int32Array[1]: chunks the main thread has finished. */
  ctl: SharedArrayBuffer;
  /** Where the main thread sends back each chunk and record array it has finished with. */
  spent: MessagePort;
}

export type WorkerMessage =
  | { type: 'chunk'; chunk: ArrayBuffer; records: ArrayBuffer; count: number; sites: string[]; names: string[]; contexts: string[]; keys: string[][]; bytesRead: number; bytesText: number; compression: Compression }
  | { type: 'end'; final?: string; finalTooLong?: number; bytesRead: number; bytesText: number; compression: Compression; error?: { message: string; code?: string } };

/** A line sink that also takes the lines the worker read (FtraceParser). */
export interface SkipLineSink extends ByteLineSink {
  pushSkipped(rec: Int32Array, o: number, lineNo: number): void;
  pushScanned(b: Buffer, rec: Int32Array, o: number, lineNo: number, name: string, flags: ContextFlags | undefined, probe: ProbeSite | undefined, keys: PayloadKeys | undefined): void;
}

/** Whether a second thread is worth starting: more than one core, and the caller did not ask for one thread. */
export function workerThreadsWanted(threads: number | undefined): boolean {
  return (threads ?? Math.min(2, availableParallelism())) > 1;
}

/**
 * readLines, with the reading and line scanning on a worker thread. `byteSink`
 * is asked again after each text line until it returns a sink (the parser is
 * chosen after the first lines); skipped-event records only come once the
 * worker has seen those same lines and chosen ftrace itself.
 */
export function readLinesInWorker(
  path: string,
  format: string | undefined,
  parallel: ParallelOptions,
  onLine: LineHandler,
  byteSink: () => SkipLineSink | undefined,
  onProgress?: (info: SourceInfo) => void,
  signal?: AbortSignal,
): Promise<SourceInfo> {
  const info: SourceInfo = { path, compression: 'none', bytesRead: 0, bytesText: 0, lines: 0, parallel: true, skippedByWorker: 0 };
  const ctl = new Int32Array(new SharedArrayBuffer(4));
  const spent = new MessageChannel();
  const workerData: ScanWorkerData = {
    path,
    format,
    spec: parallel.spec,
    chunkBytes: parallel.chunkBytes ?? CHUNK_BYTES,
    share: parallel.share ?? 8,
    ctl: ctl.buffer as SharedArrayBuffer,
    spent: spent.port2,
  };
  // The worker keeps almost nothing on its heap (name and site caches): a small young generation keeps the process's memory flat.
  const worker = new Worker(join(__dirname, 'scan-worker.js'), { workerData, transferList: [spent.port2], resourceLimits: { maxYoungGenerationSizeMb: 4 } });
  let lineNo = 0;
  let skipped = 0;
  let sink = byteSink();
  /** Probe sites by the worker's ids. */
  const sites: ProbeSite[] = [];
  /** Payload key lists, event names and decoded flags columns by the worker's ids. */
  const keyLists: PayloadKeys[] = [];
  const names: string[] = [];
  const contexts: ContextFlags[] = [];
  return new Promise<SourceInfo>((resolve, reject) => {
    let settled = false;
    const settle = (err: unknown) => {
      if (settled) return;
      settled = true;
      signal?.removeEventListener('abort', onAbort);
      spent.port1.close();
      void worker.terminate();
      info.lines = lineNo;
      if (err === undefined) resolve(info);
      else reject(err);
    };
    // Stopping early (Ctrl-C): keep what was read.
    const onAbort = () => settle(undefined);
    signal?.addEventListener('abort', onAbort, { once: true });
    worker.on('error', (err) => settle(new Error(`${path}: the scan worker failed (${err.message}); run again with --threads 1`)));
    // Its messages all arrive before 'exit': an exit before the end message means the input was not read to its end.
    worker.on('exit', (code) => settle(new Error(`${path}: the scan worker stopped before the end of the input (exit code ${code}); run again with --threads 1`)));
    worker.on('message', (m: WorkerMessage) => {
      if (settled) return;
      try {
        info.bytesRead = m.bytesRead;
        info.bytesText = m.bytesText;
        info.compression = m.compression;
        if (m.type === 'chunk') {
          const buf = Buffer.from(m.chunk);
          const rec = new Int32Array(m.records);
          for (const text of m.sites) sites.push((splitProbeSite(text) as { probe: ProbeSite }).probe);
          for (const k of m.keys) keyLists.push(Object.freeze({ keys: Object.freeze(k) }));
          for (const name of m.names) names.push(name);
          for (const raw of m.contexts) contexts.push(decodeFlagsCached(raw) as ContextFlags);
          let o = 0;
          for (let i = 0; i < m.count; i++) {
            const kind = rec[o];
            lineNo++;
            if (kind === RecordKind.Skipped) {
              skipped++;
              (sink as SkipLineSink).pushSkipped(rec, o, lineNo);
              o += EventRec.skippedSize;
            } else if (kind === RecordKind.Wanted) {
              const site = rec[o + EventRec.site];
              const keys = rec[o + EventRec.keys];
              const flags = rec[o + EventRec.flags];
              (sink as SkipLineSink).pushScanned(buf, rec, o, lineNo, names[rec[o + EventRec.name]], flags >= 0 ? contexts[flags] : undefined,
                site >= 0 ? sites[site] : undefined, keys >= 0 ? keyLists[keys] : undefined);
              o += EventRec.size;
            } else {
              const start = rec[o + LineRec.start];
              const end = rec[o + LineRec.end];
              const tooLong = rec[o + LineRec.tooLong];
              if (sink !== undefined && tooLong === 0) sink.pushBytes(buf, start, end, lineNo);
              else {
                onLine(buf.toString('utf8', start, end), lineNo, true, tooLong === 0 ? undefined : tooLong);
                sink = byteSink();
              }
              o += LineRec.size;
            }
          }
          info.skippedByWorker = skipped;
          // Nothing keeps a view of the chunk (events hold strings): it goes back to be filled again.
          spent.port1.postMessage({ chunk: m.chunk, records: m.records }, [m.chunk, m.records]);
          Atomics.add(ctl, 0, 1);
          Atomics.notify(ctl, 0);
          if (onProgress) {
            info.lines = lineNo;
            onProgress(info);
          }
          return;
        }
        if (m.final !== undefined) onLine(m.final, ++lineNo, false, m.finalTooLong);
        const e = m.error;
        if (e === undefined) settle(undefined);
        else {
          info.lines = lineNo;
          settle(DamagedInputError.of(info, e) ?? new InputError(`cannot read ${path}: ${e.message}`));
        }
      } catch (err) {
        settle(err);
      }
    });
  });
}
