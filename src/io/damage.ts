import type { Readable } from 'node:stream';

/** A decompressor's output: its error is held as `failure` until every byte it decoded before it has been read. */
export interface DecompressedStream extends Readable {
  /** The decompressor's error, once every byte it gave before it has been read. */
  failure?: NodeJS.ErrnoException;
}

/**
 * The error a decompressor raises when its input is corrupt or cut off. The
 * code is zlib's (`Z_DATA_ERROR`: corrupt; `Z_BUF_ERROR`: cut off), which is
 * what the source (src/io/source.ts) looks for to tell damage from other
 * read errors, whichever format it came from.
 */
export function decodeDamage(format: 'gzip' | 'zstd', message: string, code = 'Z_DATA_ERROR'): NodeJS.ErrnoException {
  return Object.assign(new Error(`${format}: ${message}`), { code });
}
