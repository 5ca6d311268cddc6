/** The longest line handed to a parser (bytes): a longer one is cut there and reported as unreadable (too long), never accumulated. */
export const MAX_LINE_BYTES = 64 << 10;
