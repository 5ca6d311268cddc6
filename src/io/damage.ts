/**
 * The error a decompressor raises when its input is corrupt or cut off. The
 * code is zlib's (`Z_DATA_ERROR`: corrupt; `Z_BUF_ERROR`: cut off), which is
 * what the source (src/io/source.ts) looks for to tell damage from other
 * read errors, whichever format it came from.
 */
export function decodeDamage(format: 'gzip' | 'zstd', message: string, code = 'Z_DATA_ERROR'): NodeJS.ErrnoException {
  return Object.assign(new Error(`${format}: ${message}`), { code });
}
