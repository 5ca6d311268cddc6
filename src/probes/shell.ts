/** Quoting for POSIX sh. */

const SAFE = /^[A-Za-z0-9_@%+=:,./-]+$/;

/** Quote one word for sh: unchanged when it is safe, else in single quotes. */
export function shQuote(word: string): string {
  if (word !== '' && SAFE.test(word)) return word;
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

/** Always single-quote (for text that must never be expanded, like probe definitions with `$retval`). */
export function shSingleQuote(word: string): string {
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

export function shJoin(words: readonly string[]): string {
  return words.map(shQuote).join(' ');
}
