/**
 * Files the user names besides traces (--config, --baseline, --kprobe-events)
 * are small; one pointed at /dev/zero, a FIFO or a multi-gigabyte trace by
 * mistake must end in a clear error, not read gigabytes into memory.
 */
import { closeSync, openSync, readSync } from 'node:fs';

/** Read a whole file as UTF-8, at most `maxBytes` of it: a longer one throws an Error saying so. */
export function readSmallFile(path: string, maxBytes: number): string {
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.allocUnsafe(maxBytes + 1);
    let got = 0;
    while (got <= maxBytes) {
      const n = readSync(fd, buf, got, maxBytes + 1 - got, null);
      if (n === 0) break;
      got += n;
    }
    if (got > maxBytes) throw new Error(`it is larger than ${formatBytes(maxBytes)}, far more than such a file holds (is it the right file?)`);
    return buf.toString('utf8', 0, got);
  } finally {
    closeSync(fd);
  }
}

function formatBytes(n: number): string {
  return n >= 1 << 20 ? `${n / (1 << 20)} MiB` : `${n} bytes`;
}
