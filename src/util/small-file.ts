/**
 * Files the user names besides traces (--config, --baseline, --kprobe-events,
 * --btf) are small next to a trace; one pointed at /dev/zero, a FIFO or a multi-gigabyte trace by
 * mistake must end in a clear error, not read gigabytes into memory.
 */
import { closeSync, openSync, readSync } from 'node:fs';

/** Read a whole file as UTF-8, at most `maxBytes` of it: a longer one throws an Error saying so. */
export function readSmallFile(path: string, maxBytes: number): string {
  return readSmallBytes(path, maxBytes).toString('utf8');
}

/**
 * Read a whole file, at most `maxBytes` of it: a longer one (or a device that
 * never ends, /dev/zero) throws an Error saying so. Read in pieces, so memory
 * follows what the file holds, not the limit.
 */
export function readSmallBytes(path: string, maxBytes: number): Buffer {
  const fd = openSync(path, 'r');
  try {
    const parts: Buffer[] = [];
    let got = 0;
    for (;;) {
      const piece = Buffer.allocUnsafe(Math.min(1 << 20, maxBytes + 1 - got));
      const n = readSync(fd, piece, 0, piece.length, null);
      if (n === 0) break;
      parts.push(n === piece.length ? piece : piece.subarray(0, n));
      got += n;
      if (got > maxBytes) throw new Error(`it is larger than ${formatBytes(maxBytes)}, far more than such a file holds (is it the right file?)`);
    }
    return Buffer.concat(parts, got);
  } finally {
    closeSync(fd);
  }
}

function formatBytes(n: number): string {
  if (n >= 1 << 30) return `${n / (1 << 30)} GiB`;
  return n >= 1 << 20 ? `${n / (1 << 20)} MiB` : `${n} bytes`;
}
