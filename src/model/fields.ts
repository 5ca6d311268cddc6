/**
 * key=value payload scanning shared by every parser.
 *
 * Values run to the next ` key=` token, so `comm=Web Content pid=3` keeps the
 * space, `arg1="echo "hello world""` keeps its inner quotes, and
 * `gfp_flags=GFP_KERNEL|__GFP_ZERO` stays one value. Free-form payloads
 * (`pages:1 reason:local mm shootdown (3)`) yield no fields here; the probe
 * catalog gives those events a pattern of their own.
 */
const KEY_CHAR = new Uint8Array(128);
for (let c = 0; c < 128; c++) {
  const ch = String.fromCharCode(c);
  if (/[\w.$\->[\]]/.test(ch)) KEY_CHAR[c] = 1;
}

/**
 * Find each `key=` that starts a token (at the start or after a space or comma):
 * values run from there to the next such key.
 */
export function parseFields(payload: string): Record<string, string> {
  const out: Record<string, string> = {};
  let eq = payload.indexOf('=');
  if (eq < 0) return out;
  if (simpleFields(payload, out)) return out;
  let key: string | undefined;
  let valueStart = 0;
  while (eq >= 0) {
    // walk back over key characters
    let k = eq;
    while (k > 0) {
      const c = payload.charCodeAt(k - 1);
      if (c < 128 && KEY_CHAR[c] === 1) k--;
      else break;
    }
    const before = k === 0 ? 32 : payload.charCodeAt(k - 1);
    const first = payload.charCodeAt(k);
    const startsKey = k < eq && (before === 32 || before === 44 || before === 9) && !(first >= 48 && first <= 57) && first !== 45 && first !== 46;
    if (startsKey) {
      if (key !== undefined) out[key] = cleanValue(payload.slice(valueStart, k));
      key = payload.slice(k, eq);
      valueStart = eq + 1;
    }
    eq = payload.indexOf('=', eq + 1);
  }
  if (key !== undefined) out[key] = cleanValue(payload.slice(valueStart));
  return out;
}

function cleanValue(v: string): string {
  let s = v;
  const last = s.charCodeAt(s.length - 1);
  if (s.charCodeAt(0) === 32 || last === 32 || last === 9) s = s.trim();
  if (s.endsWith(' ==>')) s = s.slice(0, -4).trimEnd();
  if (s.endsWith(',')) s = s.slice(0, -1);
  if (s.length >= 2 && s.charCodeAt(0) === 34 && s.charCodeAt(s.length - 1) === 34) s = s.slice(1, -1);
  return s;
}

/**
 * Read an integer field as users' probes print it: decimal, negative decimal,
 * `0x`-hex, or bare hex (old kprobe `arg1=ffff8800...`). Returns a bigint so
 * 64-bit pointers and `0xfffffffffffffff5` stay exact.
 */
export function parseIntegerField(v: string | undefined): bigint | undefined {
  if (v === undefined) return undefined;
  const s = v.trim();
  if (s.length > 0 && s.length < 10 && isDecimal(s)) return BigInt(Number(s));
  if (/^-?\d+$/.test(s)) return BigInt(s);
  if (/^0x[0-9a-fA-F]+$/.test(s)) return BigInt(s);
  if (/^[0-9a-fA-F]+$/.test(s)) return BigInt('0x' + s);
  return undefined;
}

function isDecimal(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return true;
}

/** A small non-negative decimal or hex field as a number (flags, event), without BigInt. */
export function parseSmallInt(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  if (v.length > 0 && v.length < 10 && isDecimal(v)) return Number(v);
  const n = parseIntegerField(v);
  return n === undefined ? undefined : Number(BigInt.asUintN(32, n));
}

/**
 * The common case, `k=v k=v ...` with single spaces, no quotes and every token
 * a key=value pair (what kprobe fetch-args print): split directly. Returns
 * false (leaving `out` for the general scanner to overwrite) otherwise.
 */
function simpleFields(payload: string, out: Record<string, string>): boolean {
  if (payload.indexOf('"') >= 0) return false;
  const n = payload.length;
  let from = 0;
  while (from < n) {
    let sp = payload.indexOf(' ', from);
    if (sp < 0) sp = n;
    const eq = payload.indexOf('=', from);
    if (eq <= from || eq >= sp - 0 || eq === sp) return false;
    const first = payload.charCodeAt(from);
    if (!((first >= 97 && first <= 122) || (first >= 65 && first <= 90) || first === 95 || first === 36)) return false;
    for (let k = from + 1; k < eq; k++) {
      const c = payload.charCodeAt(k);
      if (c >= 128 || KEY_CHAR[c] !== 1) return false;
    }
    out[payload.slice(from, eq)] = payload.slice(eq + 1, sp);
    from = sp + 1;
    if (from < n && payload.charCodeAt(from) === 32) return false;
  }
  return true;
}
