/**
 * Files the user names besides traces (--config, --baseline, --kprobe-events,
 * --btf) are small next to a trace; one pointed at /dev/zero, a FIFO or a multi-gigabyte trace by
 * mistake must end in a clear error, not read gigabytes into memory.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';

/** Read a whole file as UTF-8, at most `maxBytes` of it: a longer one throws an Error saying so. */
export function readSmallFile(path: string, maxBytes: number): string {
  return readSmallBytes(path, maxBytes).toString('utf8');
}

/**
 * Read a whole file, at most `maxBytes` of it (`streamMaxBytes` for a pipe or
 * device, which has no size to trust: /dev/zero never ends): a longer one
 * throws an Error saying so. A regular file is read into a buffer of its own
 * size; anything else in pieces, so memory follows what it holds, not the limit.
 */
export function readSmallBytes(path: string, maxBytes: number, streamMaxBytes = maxBytes): Buffer {
  const fd = openSync(path, 'r');
  try {
    const st = fstatSync(fd);
    const limit = st.isFile() ? maxBytes : streamMaxBytes;
    const tooLarge = () => new Error(`it is larger than ${formatBytes(limit)}, far more than such a file holds (is it the right file?)`);
    if (st.isFile() && st.size > limit) throw tooLarge();
    const parts: Buffer[] = [];
    let got = 0;
    for (;;) {
      // A regular file in one piece of its size, then small reads for whatever is past it (it grew, or is
      // a /proc or tracefs file that says 0); a stream 1 MiB at a time.
      const step = st.isFile() ? 64 << 10 : 1 << 20;
      const want = st.isFile() && got < st.size ? st.size - got : Math.min(step, limit + 1 - got);
      const piece = Buffer.allocUnsafe(want);
      const n = readSync(fd, piece, 0, piece.length, null);
      if (n === 0) break;
      parts.push(n === piece.length ? piece : piece.subarray(0, n));
      got += n;
      if (got > limit) throw tooLarge();
    }
    return parts.length === 1 ? parts[0] : Buffer.concat(parts, got);
  } finally {
    closeSync(fd);
  }
}

function formatBytes(n: number): string {
  if (n >= 1 << 30) return `${n / (1 << 30)} GiB`;
  return n >= 1 << 20 ? `${n / (1 << 20)} MiB` : `${n} bytes`;
}
