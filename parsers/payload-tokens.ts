/**
 * A kprobe payload's `key=value` tokens read from the line's bytes, for the
 * ftrace scanner (TraceEvent.tokens). Fetch-args print the keys of the probe
 * definition in the same order on every hit, so each event name keeps the
 * few key lists it was seen with: a line is checked against them in place
 * (keys compared 4 bytes at a time, no regular expression, no string), and
 * only the values' ends are written into the scan record. Tokens are split at
 * single spaces, as the text reader (semantics' PayloadLayout) splits them;
 * a token's key is its text up to its first `=` with it, `''` without one. A payload with a non-ASCII byte or a
 * `"` (whose offsets or quoting the text reader handles), or with more than
 * MAX_TOKENS tokens, is not read here.
 */
import type { PayloadKeys } from '../src/model/event';
import { EventRec, MAX_TOKENS } from '../src/model/records';
import { ByteKey } from './byte-table';

/** One list of keys as bytes (`key=`; undefined for a token without `=`). */
export interface KeyLayout {
  keys: PayloadKeys;
  needles: Array<ByteKey | undefined>;
}

/** Key lists kept per event name, most recent first. */
const MAX_LAYOUTS = 4;

/**
 * Read the tokens of the payload [from, end) into `rec` at `o` (EventRec.ends
 * and canonical) with one of `layouts` (learning a new one if none fits);
 * returns their keys, or undefined when the payload is not read here.
 */
export function readTokens(view: DataView, b: Uint8Array, from: number, end: number, layouts: KeyLayout[], rec: Int32Array, o: number): PayloadKeys | undefined {
  for (let i = 0; i < layouts.length; i++) {
    if (matchTokens(view, b, from, end, layouts[i], rec, o)) return layouts[i].keys;
  }
  const learnt = learn(b, from, end);
  if (learnt === undefined || !matchTokens(view, b, from, end, learnt, rec, o)) return undefined;
  if (layouts.length >= MAX_LAYOUTS) layouts.pop();
  layouts.unshift(learnt);
  return learnt.keys;
}

function matchTokens(view: DataView, b: Uint8Array, from: number, end: number, layout: KeyLayout, rec: Int32Array, o: number): boolean {
  const needles = layout.needles;
  const last = needles.length - 1;
  let pos = from;
  let canonical = 0;
  for (let t = 0; t <= last; t++) {
    const needle = needles[t];
    let v = pos;
    if (needle !== undefined) {
      if (pos + needle.len > end || !needle.matches(view, b, pos)) return false;
      v = pos + needle.len;
    }
    let x = v;
    while (x < end) {
      const c = b[x];
      if (c === 32) break;
      if (c >= 128 || c === 34 /* " */ || (c === 61 /* = */ && needle === undefined)) return false;
      x++;
    }
    if (isCanonicalHex(b, v, x)) canonical |= 1 << t;
    rec[o + EventRec.ends + t] = x - from;
    if (t < last) {
      if (x >= end) return false;
      pos = x + 1;
    } else if (x !== end) return false;
  }
  rec[o + EventRec.canonical] = canonical;
  return true;
}

/** The key list of the payload [from, end), or undefined when it is not read here. */
function learn(b: Uint8Array, from: number, end: number): KeyLayout | undefined {
  const keys: string[] = [];
  const needles: Array<ByteKey | undefined> = [];
  let pos = from;
  for (;;) {
    if (keys.length === MAX_TOKENS) return undefined;
    let eq = -1;
    let x = pos;
    while (x < end && b[x] !== 32) {
      const c = b[x];
      if (c >= 128 || c === 34) return undefined;
      if (c === 61 && eq < 0) eq = x;
      x++;
    }
    keys.push(eq < 0 ? '' : Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('latin1', pos, eq + 1));
    needles.push(eq < 0 ? undefined : new ByteKey(b, pos, eq + 1));
    if (x >= end) break;
    pos = x + 1;
  }
  return { keys: Object.freeze({ keys: Object.freeze(keys) }), needles };
}

/** `0x` + lower-case hex without a leading zero, 1 to 16 digits (semantics' isCanonicalHex, on bytes). */
function isCanonicalHex(b: Uint8Array, from: number, to: number): boolean {
  const n = to - from;
  if (n < 3 || n > 18 || b[from] !== 48 || b[from + 1] !== 120) return false;
  if (b[from + 2] === 48 && n > 3) return false;
  for (let i = from + 2; i < to; i++) {
    const c = b[i];
    if (!((c >= 48 && c <= 57) || (c >= 97 && c <= 102))) return false;
  }
  return true;
}
