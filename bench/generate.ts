/**
 * Generate a large ftrace text trace at run time (never committed) by replaying
 * a real capture's event lines with shifted timestamps. Pairs stay balanced
 * (each copy holds whole ranges), except in the last copy, which the size
 * cuts off: a range it leaves open ends with the capture, so `check` reports
 * it as inconclusive (info) only, and mawk's one-liner counts it as open.
 */
import { createWriteStream, readFileSync } from 'node:fs';
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

/** Write copies of the template until `bytes` are written. Resolves to the bytes and lines written. */
export async function generate(path: string, bytes: number, tpl: Template): Promise<{ bytes: number; lines: number }> {
  const out = createWriteStream(path, { highWaterMark: 1 << 20 });
  // A file that cannot be written (no such folder, disk full) fails the promise, not the process.
  let failed: Error | undefined;
  const failure = new Promise<never>((_, reject) => out.once('error', (err) => reject((failed = err))));
  failure.catch(() => undefined);
  let written = 0;
  let lines = 0;
  const write = (s: string) => {
    if (failed) return Promise.reject(failed);
    written += Buffer.byteLength(s);
    return out.write(s) ? Promise.resolve() : Promise.race([new Promise<void>((resolve) => out.once('drain', resolve)), failure]);
  };
  await write(tpl.header);
  // Whole lines until `bytes` are reached (the last line may cross it): the file is the size asked for, to a line.
  let pending = 0;
  for (let copy = 0; written + pending < bytes; copy++) {
    const shift = copy * tpl.spanUs;
    let chunk: string[] = [];
    for (const p of tpl.parts) {
      const t = p.sec * 1e6 + p.usec + shift;
      const sec = Math.floor(t / 1e6);
      const usec = t - sec * 1e6;
      const line = `${p.before}${sec}.${String(usec).padStart(6, '0')}${p.after}\n`;
      chunk.push(line);
      pending += line.length;
      lines++;
      if (chunk.length === 4096 || written + pending >= bytes) {
        await write(chunk.join(''));
        chunk = [];
        pending = 0;
        if (written >= bytes) break;
      }
    }
    if (chunk.length) {
      await write(chunk.join(''));
      pending = 0;
    }
  }
  await Promise.race([new Promise<void>((resolve) => out.end(resolve)), failure]);
  return { bytes: written, lines };
}
