import type { Timestamp } from './event';

/**
 * Parse a trace timestamp without going through a float.
 * `6.667004` and `23.565443123` are seconds (6 or 9 decimals); a bare integer
 * (`counter`, `x86-tsc` clocks) is kept as a counter value split at 1e9.
 * Returns undefined when the text is not a timestamp.
 */
export function parseTimestamp(raw: string): Timestamp | undefined {
  if (raw.endsWith('us')) {
    const micros = raw.slice(0, -2);
    return isDigits(micros, 0, micros.length) ? timestampFromMicros(raw, micros) : undefined;
  }
  const dot = raw.indexOf('.');
  if (dot < 0) {
    if (!isDigits(raw, 0, raw.length) || raw.length > MAX_SECOND_DIGITS + 9) return undefined;
    const cut = raw.length - 9;
    const sec = cut > 0 ? Number(raw.slice(0, cut)) : 0;
    const nsec = Number(cut > 0 ? raw.slice(cut) : raw);
    return { raw, sec, nsec, unit: 'counter' };
  }
  if (dot === 0 || dot === raw.length - 1 || dot > MAX_SECOND_DIGITS) return undefined;
  if (!isDigits(raw, 0, dot) || !isDigits(raw, dot + 1, raw.length)) return undefined;
  let frac = raw.slice(dot + 1);
  if (frac.length > 9) return undefined;
  frac = frac.padEnd(9, '0');
  return { raw, sec: Number(raw.slice(0, dot)), nsec: Number(frac), unit: 'seconds' };
}

/**
 * Seconds have at most this many digits (a 64-bit nanosecond counter has 11;
 * a double holds 15 exactly): more is not a timestamp, and would be read as
 * Infinity, which no time arithmetic survives.
 */
export const MAX_SECOND_DIGITS = 15;

/**
 * Microsecond timestamps of the latency format (`123us`, relative to the buffer start), from their
 * digits; undefined when there are more than a timestamp can have (see MAX_SECOND_DIGITS).
 */
export function timestampFromMicros(raw: string, micros: string): Timestamp | undefined {
  if (micros.length > MAX_SECOND_DIGITS + 6) return undefined;
  const cut = micros.length - 6;
  const sec = cut > 0 ? Number(micros.slice(0, cut)) : 0;
  const usec = Number(cut > 0 ? micros.slice(cut) : micros);
  return { raw, sec, nsec: usec * 1000, unit: 'seconds' };
}

function isDigits(s: string, from: number, to: number): boolean {
  if (to <= from) return false;
  for (let i = from; i < to; i++) {
    const c = s.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return true;
}

export function compareTimestamps(a: Timestamp, b: Timestamp): number {
  return a.sec - b.sec || a.nsec - b.nsec;
}

/** b - a in nanoseconds (exact for differences under ~104 days). */
export function diffNs(a: Timestamp, b: Timestamp): number {
  return (b.sec - a.sec) * 1e9 + (b.nsec - a.nsec);
}

/** Format a nanosecond duration for people: `812 ns`, `41.3 µs`, `12.5 ms`, `3.20 s`. */
export function formatDuration(ns: number): string {
  if (ns < 1000) return `${ns} ns`;
  if (ns < 1e6) return `${(ns / 1e3).toFixed(1)} µs`;
  if (ns < 1e9) return `${(ns / 1e6).toFixed(1)} ms`;
  return `${(ns / 1e9).toFixed(2)} s`;
}

/** Cheap shape check of a timestamp (digits, at most one dot inside) without building anything. */
export function isTimestampText(s: string): boolean {
  const n = s.length;
  if (n === 0) return false;
  let dot = -1;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c === 46) {
      if (dot >= 0 || i === 0 || i === n - 1) return false;
      dot = i;
    } else if (c < 48 || c > 57) return false;
  }
  return dot < 0 ? n <= MAX_SECOND_DIGITS + 9 : dot <= MAX_SECOND_DIGITS && n - dot - 1 <= 9;
}

/**
 * Rebuild a Timestamp from its parts, with the raw text exactly as printed:
 * `digits` is the number of decimals printed (6 or 9), -1 for a bare-integer
 * counter clock, -2 for latency-format microseconds.
 */
export function timestampFromParts(sec: number, nsec: number, digits: number): Timestamp {
  if (digits === -1) {
    const raw = sec > 0 ? `${sec}${String(nsec).padStart(9, '0')}` : String(nsec);
    return { raw, sec, nsec, unit: 'counter' };
  }
  if (digits === -2) return { raw: `${sec * 1e6 + Math.floor(nsec / 1000)}us`, sec, nsec, unit: 'seconds' };
  return { raw: `${sec}.${String(nsec).padStart(9, '0').slice(0, digits)}`, sec, nsec, unit: 'seconds' };
}

/** How a parsed timestamp was printed, as timestampFromParts wants it. */
export function timestampDigits(ts: Timestamp): number {
  if (ts.unit === 'counter') return -1;
  if (ts.raw.endsWith('us')) return -2;
  return ts.raw.length - ts.raw.indexOf('.') - 1;
}

/** A Timestamp from whole nanoseconds (sec/nsec split exactly), with the given raw text. */
export function timestampFromNs(ns: bigint, raw: string, unit: Timestamp['unit'] = 'seconds'): Timestamp {
  const neg = ns < 0n;
  const abs = neg ? -ns : ns;
  const sec = Number(abs / 1_000_000_000n);
  const nsec = Number(abs % 1_000_000_000n);
  return { raw, sec: neg ? -sec : sec, nsec, unit };
}

/** Whole nanoseconds of a Timestamp. */
export function timestampNs(ts: Timestamp): bigint {
  return BigInt(ts.sec) * 1_000_000_000n + BigInt(ts.nsec);
}

/** `ts + ns`, with a new raw text (default empty: the value was computed, not printed). */
export function addNs(ts: Timestamp, ns: bigint, raw = ''): Timestamp {
  return timestampFromNs(timestampNs(ts) + ns, raw, ts.unit);
}

/** An integer nanosecond count written as text (`23565443123`), split without going through a float. */
export function timestampFromNsText(text: string): Timestamp | undefined {
  if (!/^\d+$/.test(text) || text.length > MAX_SECOND_DIGITS + 9) return undefined;
  const cut = text.length - 9;
  return { raw: text, sec: cut > 0 ? Number(text.slice(0, cut)) : 0, nsec: Number(cut > 0 ? text.slice(cut) : text), unit: 'seconds' };
}
