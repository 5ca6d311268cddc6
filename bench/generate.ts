/**
 * Generate a large ftrace text trace at run time (never committed) by replaying
 * a real capture's event lines with shifted timestamps. Pairs stay balanced
 * (each copy holds whole ranges), except in the last copy, which the size
 * cuts off: a range it leaves open ends with the capture, so `check` reports
 * it as inconclusive (info) only, and mawk's one-liner counts it as open.
 */
import { createWriteStream, readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { gunzipSync } from 'node:zlib';

export interface Template {
  /** Line text split around the timestamp. */
  parts: Array<{ before: string; sec: number; usec: number; after: string }>;
  /** Span of one copy in microseconds (plus a gap). */
  spanUs: number;
  header: string;
}

const TS = /^(.*?\]\s+\S+\s+)(\d+)\.(\d{6})(:.*)$/;

export function loadTemplate(gzPath: string): Template {
  const text = gunzipSync(readFileSync(gzPath)).toString('utf8');
  const lines = text.split('\n');
  const header: string[] = [];
  const parts: Template['parts'] = [];
  for (const l of lines) {
    if (l.startsWith('#')) {
      if (parts.length === 0) header.push(l.replace(/entries-in-buffer\/entries-written: \d+\/\d+/, 'entries-in-buffer/entries-written: 0/0'));
      continue;
    }
    const m = TS.exec(l);
    if (!m) continue;
    parts.push({ before: m[1], sec: Number(m[2]), usec: Number(m[3]), after: m[4] });
  }
  const first = parts[0].sec * 1e6 + parts[0].usec;
  const last = parts[parts.length - 1].sec * 1e6 + parts[parts.length - 1].usec;
  return { parts, spanUs: last - first + 1000, header: header.join('\n') + '\n' };
}

/** Write copies of the template until `bytes` are written. Resolves to the bytes and lines written; rejects if the file cannot be written. */
export async function generate(path: string, bytes: number, tpl: Template): Promise<{ bytes: number; lines: number }> {
  let written = 0;
  let lines = 0;
  // Whole lines until `bytes` are reached (the last line may cross it): the file is the size asked for, to a line.
  function* chunks(): Generator<string> {
    written = Buffer.byteLength(tpl.header);
    yield tpl.header;
    if (written >= bytes) return;
    let chunk: string[] = [];
    let pending = 0;
    for (let copy = 0; ; copy++) {
      const shift = copy * tpl.spanUs;
      for (const p of tpl.parts) {
        const t = p.sec * 1e6 + p.usec + shift;
        const sec = Math.floor(t / 1e6);
        const usec = t - sec * 1e6;
        const line = `${p.before}${sec}.${String(usec).padStart(6, '0')}${p.after}\n`;
        chunk.push(line);
        pending += Buffer.byteLength(line);
        lines++;
        const done = written + pending >= bytes;
        if (chunk.length === 4096 || done) {
          written += pending;
          yield chunk.join('');
          chunk = [];
          pending = 0;
        }
        if (done) return;
      }
    }
  }
  // pipeline: the file stream's back-pressure, and its errors (no such folder, disk full) reject this promise.
  await pipeline(Readable.from(chunks()), createWriteStream(path, { highWaterMark: 1 << 20 }));
  return { bytes: written, lines };
}
