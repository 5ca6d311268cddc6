/**
 * key=value payload scanning shared by every parser.
 *
 * Values run to the next ` key=` token, so `comm=Web Content pid=3` keeps the
 * space, `arg1="echo "hello world""` keeps its inner quotes, and
 * `gfp_flags=GFP_KERNEL|__GFP_ZERO` stays one value. Free-form payloads
 * (`pages:1 reason:local mm shootdown (3)`) yield no fields here; the probe
 * catalog gives those events a pattern of their own.
 */
const KEY = /(?:^|[\s,])([A-Za-z_$][\w.$\->[\]]*)=/g;

export function parseFields(payload: string): Record<string, string> {
  const out: Record<string, string> = {};
  if (payload.indexOf('=') < 0) return out;
  KEY.lastIndex = 0;
  let key: string | undefined;
  let valueStart = 0;
  let m: RegExpExecArray | null;
  while ((m = KEY.exec(payload)) !== null) {
    if (key !== undefined) out[key] = cleanValue(payload.slice(valueStart, m.index));
    key = m[1];
    valueStart = KEY.lastIndex;
  }
  if (key !== undefined) out[key] = cleanValue(payload.slice(valueStart));
  return out;
}

function cleanValue(v: string): string {
  let s = v.trim();
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
  if (/^-?\d+$/.test(s)) return BigInt(s);
  if (/^0x[0-9a-fA-F]+$/.test(s)) return BigInt(s);
  if (/^[0-9a-fA-F]+$/.test(s)) return BigInt('0x' + s);
  return undefined;
}

/** Interpret an integer as a signed value of `bits` width (ret=0xfffffff5 -> -11). */
export function toSigned(v: bigint, bits: 32 | 64): bigint {
  return BigInt.asIntN(bits, v);
}
