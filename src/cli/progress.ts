/**
 * A progress bar on stderr while a large input is read: bytes read of the
 * file's size, MB/s and time left. Only on a terminal, never with --quiet,
 * and only for inputs of a few MB (compressed ones from less, as they expand);
 * nothing is drawn for the first quarter second, so quick runs stay quiet.
 */
import { statSync } from 'node:fs';
import type { SourceInfo } from '../io/source';
import { termText } from '../report/terminal';

export interface ProgressStream {
  isTTY?: boolean;
  columns?: number;
  write(s: string): boolean;
}

export interface ProgressOptions {
  stream?: ProgressStream;
  quiet?: boolean;
  color?: boolean;
  /** Smallest plain input that gets a bar (default 4 MiB). */
  minBytes?: number;
  /** Smallest compressed input that gets a bar (default 2 MiB: it reads as 20-50 MB of text). */
  minCompressedBytes?: number;
  /** Wait this long before drawing (ms, default 250). */
  delayMs?: number;
  /** Redraw at most this often (ms, default 100). */
  intervalMs?: number;
  now?: () => number;
}

export interface Progress {
  onProgress(info: SourceInfo): void;
  /** Clear the bar (call when the input is done, or failed). */
  done(): void;
}

const MB = 1024 * 1024;

function fmtEta(s: number): string {
  if (!Number.isFinite(s) || s < 0) return '--';
  if (s < 60) return `${Math.ceil(s)}s`;
  const m = Math.floor(s / 60);
  return m < 60 ? `${m}m${String(Math.round(s % 60)).padStart(2, '0')}s` : `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}

/** The bar's text for `done` of `total` bytes at `rate` bytes/s (exported for tests). */
export function progressLine(rawLabel: string, done: number, total: number, rate: number, width: number, color: boolean, unpacked?: number): string {
  const label = termText(rawLabel);
  const frac = total > 0 ? Math.min(1, done / total) : 0;
  const text = unpacked !== undefined ? ` (${(unpacked / MB).toFixed(0)} MB unpacked)` : '';
  const stats = ` ${String(Math.floor(frac * 100)).padStart(3)}% ${(done / MB).toFixed(1)}/${(total / MB).toFixed(1)} MB${text} ${(rate / MB).toFixed(1)} MB/s ETA ${fmtEta(rate > 0 ? (total - done) / rate : Infinity)}`;
  const room = Math.max(10, width - stats.length - 4);
  const barWidth = Math.min(30, Math.max(10, Math.floor(room / 3)));
  const labelRoom = Math.max(0, room - barWidth - 1);
  const name = label.length > labelRoom ? '…' + label.slice(label.length - labelRoom + 1) : label;
  const filled = Math.round(frac * barWidth);
  const bar = '█'.repeat(filled) + '░'.repeat(barWidth - filled);
  return `${name} ${color ? `\u001b[36m${bar}\u001b[39m` : bar}${stats}`;
}

/** A progress bar for `path`, or undefined when none should be shown. */
export function createProgress(path: string, opts: ProgressOptions = {}): Progress | undefined {
  const stream = opts.stream ?? process.stderr;
  if (opts.quiet || !stream.isTTY || path === '-') return undefined;
  let total: number;
  try {
    const st = statSync(path);
    if (!st.isFile()) return undefined;
    total = st.size;
  } catch {
    return undefined;
  }
  const minPlain = opts.minBytes ?? 4 * MB;
  const minCompressed = opts.minCompressedBytes ?? 2 * MB;
  if (total < Math.min(minPlain, minCompressed)) return undefined;
  const now = opts.now ?? (() => Date.now());
  const began = now();
  const delay = opts.delayMs ?? 250;
  const interval = opts.intervalMs ?? 100;
  let lastDraw = -Infinity;
  let drawn = false;
  let off = false;
  return {
    onProgress(info) {
      if (off) return;
      if (total < (info.compression === 'none' ? minPlain : minCompressed)) {
        off = true;
        return;
      }
      const t = now();
      if (t - began < delay || t - lastDraw < interval) return;
      lastDraw = t;
      const rate = info.bytesRead / Math.max(0.001, (t - began) / 1000);
      // Compressed input is read ahead in 1 MiB chunks: the unpacked text size shows the progress in between.
      const line = progressLine(path, info.bytesRead, total, rate, stream.columns || 80, !!opts.color, info.compression === 'none' ? undefined : info.bytesText);
      stream.write(`\r${line}\u001b[K`);
      drawn = true;
    },
    done() {
      if (drawn) stream.write('\r\u001b[K');
      drawn = false;
      off = true;
    },
  };
}
