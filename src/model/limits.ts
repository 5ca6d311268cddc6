/** The longest line handed to a parser (bytes): a longer one is cut there and reported as unreadable (too long), never accumulated. */
export const MAX_LINE_BYTES = 64 << 10;

/** How much of an unreadable line a report keeps (characters; a too-long line's reader keeps as many bytes of its head). */
export const UNREADABLE_HEAD = 300;
