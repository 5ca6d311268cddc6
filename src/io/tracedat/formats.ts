/**
 * Event format descriptions as tracefs prints them (events/SYSTEM/EVENT/format),
 * embedded in a trace.dat: the fields (offset, size, signedness, arrays,
 * `__data_loc`/`__rel_loc` strings) and the print format, whose arguments are
 * C expressions over `REC->field` (casts, arithmetic and logic, `?:`,
 * `__get_str`, `__print_flags`, `__print_symbolic`). An event's payload is
 * printed from them as trace-cmd report prints it.
 */

export interface Field {
  name: string;
  type: string;
  offset: number;
  size: number;
  signed: boolean;
  /** `__data_loc` (offset and length packed in 4 bytes) or `__rel_loc` (offset from the field's end). */
  loc?: 'data' | 'rel';
  /** `char name[N]` or `type name[]`: an array (N 0 for one to the record's end). */
  array?: number;
}

export interface EventFormat {
  id: number;
  system: string;
  name: string;
  fields: Field[];
  byName: Map<string, Field>;
  fmt: string;
  /** The print format's arguments, parsed; undefined when they use what this reader does not evaluate. */
  args?: Expr[];
  /** Why the arguments could not be parsed. */
  argsError?: string;
}

/** Parse one format file. Undefined when it has no name or id. */
export function parseFormat(system: string, text: string): EventFormat | undefined {
  const name = /^name:\s*(\S+)/m.exec(text)?.[1];
  const id = /^ID:\s*(\d+)/m.exec(text)?.[1];
  if (name === undefined || id === undefined) return undefined;
  const fields: Field[] = [];
  for (const m of text.matchAll(/field:([^;]*);\s*offset:(\d+);\s*size:(\d+);(?:\s*signed:(\d+);)?/g)) {
    const decl = m[1].trim();
    const d = /^(.*?)\s*([A-Za-z_]\w*)\s*(?:\[(\d*)\])?$/.exec(decl);
    if (!d) continue;
    const f: Field = { name: d[2], type: d[1].trim(), offset: Number(m[2]), size: Number(m[3]), signed: m[4] === '1' };
    if (f.type.startsWith('__data_loc')) f.loc = 'data';
    else if (f.type.startsWith('__rel_loc')) f.loc = 'rel';
    else if (d[3] !== undefined) f.array = d[3] === '' ? 0 : Number(d[3]);
    fields.push(f);
  }
  const pf = /^print fmt:\s*"((?:[^"\\]|\\.)*)"\s*,?\s*([\s\S]*?)\s*$/m.exec(text.slice(text.indexOf('print fmt:')));
  const ev: EventFormat = { id: Number(id), system, name, fields, byName: new Map(fields.map((f) => [f.name, f])), fmt: pf ? unescapeC(pf[1]) : '' };
  if (pf) {
    try {
      ev.args = pf[2] === '' ? [] : parseArgs(pf[2]);
    } catch (err) {
      ev.argsError = (err as Error).message;
    }
  } else ev.argsError = 'no print fmt';
  return ev;
}

export function unescapeC(s: string): string {
  return s.replace(/\\(n|t|r|\\|"|'|0|x[0-9a-fA-F]{2})/g, (_, c: string) =>
    c === 'n' ? '\n' : c === 't' ? '\t' : c === 'r' ? '\r' : c === '0' ? '\0' : c[0] === 'x' ? String.fromCharCode(parseInt(c.slice(1), 16)) : c);
}

// ---- expressions ----

export type Expr =
  | { k: 'num'; v: bigint }
  | { k: 'str'; v: string }
  | { k: 'field'; name: string }
  | { k: 'ident'; name: string }
  | { k: 'un'; op: string; a: Expr }
  | { k: 'bin'; op: string; a: Expr; b: Expr }
  | { k: 'cond'; c: Expr; a: Expr; b: Expr }
  | { k: 'cast'; type: string; a: Expr }
  | { k: 'call'; fn: string; args: Expr[] }
  | { k: 'list'; items: Expr[] };

type Tok = { t: 'num' | 'str' | 'id' | 'op'; v: string };

function tokenize(s: string): Tok[] {
  const out: Tok[] = [];
  const re = /\s+|(0[xX][0-9a-fA-F]+|\d+)[uUlL]*|([A-Za-z_]\w*)|"((?:[^"\\]|\\.)*)"|'(\\.|[^'\\])'|(->|<<|>>|<=|>=|==|!=|&&|\|\||[-+*/%&|^!~<>?:(),{}[\].])/y;
  let m: RegExpExecArray | null;
  while (re.lastIndex < s.length && (m = re.exec(s))) {
    if (m[1] !== undefined) out.push({ t: 'num', v: m[1] });
    else if (m[2] !== undefined) out.push({ t: 'id', v: m[2] });
    else if (m[3] !== undefined) out.push({ t: 'str', v: unescapeC(m[3]) });
    else if (m[4] !== undefined) out.push({ t: 'num', v: String(unescapeC(m[4]).charCodeAt(0)) });
    else if (m[5] !== undefined) out.push({ t: 'op', v: m[5] });
  }
  if (re.lastIndex < s.length) throw new Error(`cannot read the print arguments at ${JSON.stringify(s.slice(re.lastIndex, re.lastIndex + 20))}`);
  return out;
}

const TYPE_WORDS = new Set(['unsigned', 'signed', 'int', 'long', 'short', 'char', 'void', 'const', 'struct', 'bool', 'u8', 'u16', 'u32', 'u64', 's8', 's16', 's32', 's64', 'size_t', 'gfp_t', 'pid_t']);

/** The comma-separated argument list of a print fmt. */
export function parseArgs(s: string): Expr[] {
  const toks = tokenize(s);
  let i = 0;
  const peek = (v: string) => toks[i]?.t === 'op' && toks[i].v === v;
  const eat = (v: string) => {
    if (!peek(v)) throw new Error(`expected '${v}' in the print arguments, found ${toks[i] ? `'${toks[i].v}'` : 'the end'}`);
    i++;
  };
  const binLevels: string[][] = [['||'], ['&&'], ['|'], ['^'], ['&'], ['==', '!='], ['<', '>', '<=', '>='], ['<<', '>>'], ['+', '-'], ['*', '/', '%']];
  const expr = (): Expr => {
    const c = binary(0);
    if (peek('?')) {
      i++;
      const a = expr();
      eat(':');
      return { k: 'cond', c, a, b: expr() };
    }
    return c;
  };
  const binary = (level: number): Expr => {
    if (level === binLevels.length) return unary();
    let a = binary(level + 1);
    while (toks[i]?.t === 'op' && binLevels[level].includes(toks[i].v)) {
      const op = toks[i++].v;
      a = { k: 'bin', op, a, b: binary(level + 1) };
    }
    return a;
  };
  const isCast = (): number => {
    // `(` type words and `*` `)`: the index after `)`, else -1.
    let j = i + 1;
    let words = 0;
    let typeLike = false;
    while (toks[j] && (toks[j].t === 'id' || (toks[j].t === 'op' && toks[j].v === '*'))) {
      if (toks[j].t === 'id') {
        words++;
        if (TYPE_WORDS.has(toks[j].v) || /_t$/.test(toks[j].v)) typeLike = true;
      }
      j++;
    }
    return words > 0 && typeLike && toks[j]?.t === 'op' && toks[j].v === ')' ? j + 1 : -1;
  };
  const unary = (): Expr => {
    const t = toks[i];
    if (t?.t === 'op' && ['!', '~', '-', '+', '*', '&'].includes(t.v)) {
      i++;
      return { k: 'un', op: t.v, a: unary() };
    }
    if (t?.t === 'op' && t.v === '(') {
      const after = isCast();
      if (after > 0) {
        const type = toks.slice(i + 1, after - 1).map((x) => x.v).join(' ');
        i = after;
        return { k: 'cast', type, a: unary() };
      }
    }
    return postfix();
  };
  const postfix = (): Expr => {
    let e = primary();
    for (;;) {
      if (peek('->') || peek('.')) {
        i++;
        const name = toks[i++];
        if (name?.t !== 'id') throw new Error('expected a field name after ->');
        e = e.k === 'ident' && e.name === 'REC' ? { k: 'field', name: name.v } : { k: 'call', fn: '->', args: [e, { k: 'str', v: name.v }] };
      } else if (peek('[')) {
        i++;
        const idx = expr();
        eat(']');
        e = { k: 'call', fn: '[]', args: [e, idx] };
      } else if (peek('(') && e.k === 'ident') {
        i++;
        const args: Expr[] = [];
        while (!peek(')')) {
          args.push(expr());
          if (!peek(')')) eat(',');
        }
        i++;
        e = { k: 'call', fn: e.name, args };
      } else return e;
    }
  };
  const primary = (): Expr => {
    const t = toks[i++];
    if (!t) throw new Error('the print arguments end early');
    if (t.t === 'num') return { k: 'num', v: BigInt(t.v) };
    if (t.t === 'str') {
      let v = t.v;
      while (toks[i]?.t === 'str') v += toks[i++].v;
      return { k: 'str', v };
    }
    if (t.t === 'id') return { k: 'ident', name: t.v };
    if (t.v === '(') {
      const e = expr();
      eat(')');
      return e;
    }
    if (t.v === '{') {
      const items: Expr[] = [];
      while (!peek('}')) {
        items.push(expr());
        if (!peek('}')) eat(',');
      }
      i++;
      return { k: 'list', items };
    }
    throw new Error(`unexpected '${t.v}' in the print arguments`);
  };
  const args: Expr[] = [];
  while (i < toks.length) {
    args.push(expr());
    if (i < toks.length) eat(',');
  }
  return args;
}

// ---- values ----

export type Value = bigint | string;

/** What evaluation needs: the record's bytes, and symbols for %pS. */
export interface RecordView {
  data: Buffer;
  le: boolean;
  longSize: number;
}

export function readField(f: Field, r: RecordView): Value {
  const d = r.data;
  if (f.loc !== undefined) {
    if (f.offset + 4 > d.length) return '';
    const v = r.le ? d.readUInt32LE(f.offset) : d.readUInt32BE(f.offset);
    let off = v & 0xffff;
    const len = v >>> 16;
    if (f.loc === 'rel') off += f.offset + f.size;
    return cString(d, off, Math.min(d.length, off + len));
  }
  if (f.array !== undefined) {
    const end = f.array === 0 || f.size === 0 ? d.length : Math.min(d.length, f.offset + f.size);
    if (/\bchar\b/.test(f.type)) return cString(d, f.offset, end);
    return d.subarray(f.offset, end).toString('hex');
  }
  if (f.offset + f.size > d.length) return 0n;
  let v: bigint;
  switch (f.size) {
    case 1: v = BigInt(d[f.offset]); break;
    case 2: v = BigInt(r.le ? d.readUInt16LE(f.offset) : d.readUInt16BE(f.offset)); break;
    case 4: v = BigInt(r.le ? d.readUInt32LE(f.offset) : d.readUInt32BE(f.offset)); break;
    case 8: v = r.le ? d.readBigUInt64LE(f.offset) : d.readBigUInt64BE(f.offset); break;
    default: return d.subarray(f.offset, f.offset + f.size).toString('hex');
  }
  return f.signed ? BigInt.asIntN(f.size * 8, v) : v;
}

function cString(d: Buffer, from: number, to: number): string {
  const z = d.indexOf(0, from);
  return d.toString('utf8', from, z >= 0 && z < to ? z : to);
}

export interface Symbols {
  /** `sym+0xoff` (or `sym` with offset 0 when `bare`), or undefined when no symbol covers the address. */
  lookup(addr: bigint): { name: string; offset: bigint } | undefined;
}

const num = (v: Value): bigint => (typeof v === 'bigint' ? v : BigInt(v.length > 0 ? 1 : 0));
const truth = (v: Value): boolean => (typeof v === 'bigint' ? v !== 0n : v.length > 0);

export function evaluate(e: Expr, ev: EventFormat, r: RecordView): Value {
  switch (e.k) {
    case 'num': return e.v;
    case 'str': return e.v;
    case 'field': {
      const f = ev.byName.get(e.name);
      if (!f) throw new Error(`no field ${e.name}`);
      return readField(f, r);
    }
    case 'ident': throw new Error(`unknown name ${e.name}`);
    case 'cast': {
      const v = evaluate(e.a, ev, r);
      if (typeof v !== 'bigint') return v;
      const bits = castBits(e.type, r.longSize);
      if (bits === 0) return v;
      return /\bunsigned\b|^u\d|_t$|\*/.test(e.type) && !/^s\d/.test(e.type) ? BigInt.asUintN(bits, v) : BigInt.asIntN(bits, v);
    }
    case 'un': {
      const v = evaluate(e.a, ev, r);
      switch (e.op) {
        case '!': return truth(v) ? 0n : 1n;
        case '~': return ~num(v);
        case '-': return -num(v);
        case '+': return num(v);
        default: throw new Error(`unary ${e.op} is not evaluated`);
      }
    }
    case 'bin': {
      if (e.op === '&&') return truth(evaluate(e.a, ev, r)) && truth(evaluate(e.b, ev, r)) ? 1n : 0n;
      if (e.op === '||') return truth(evaluate(e.a, ev, r)) || truth(evaluate(e.b, ev, r)) ? 1n : 0n;
      const a = num(evaluate(e.a, ev, r));
      const b = num(evaluate(e.b, ev, r));
      switch (e.op) {
        case '|': return a | b;
        case '^': return a ^ b;
        case '&': return a & b;
        case '==': return a === b ? 1n : 0n;
        case '!=': return a !== b ? 1n : 0n;
        case '<': return a < b ? 1n : 0n;
        case '>': return a > b ? 1n : 0n;
        case '<=': return a <= b ? 1n : 0n;
        case '>=': return a >= b ? 1n : 0n;
        case '<<': return a << b;
        case '>>': return a >> b;
        case '+': return a + b;
        case '-': return a - b;
        case '*': return a * b;
        case '/': return b === 0n ? 0n : a / b;
        case '%': return b === 0n ? 0n : a % b;
      }
      throw new Error(`operator ${e.op} is not evaluated`);
    }
    case 'cond': return truth(evaluate(e.c, ev, r)) ? evaluate(e.a, ev, r) : evaluate(e.b, ev, r);
    case 'list': throw new Error('a {value, name} list outside __print_flags/__print_symbolic');
    case 'call': return call(e.fn, e.args, ev, r);
  }
}

function castBits(type: string, longSize: number): number {
  if (/\*/.test(type)) return longSize * 8;
  if (/\blong long\b|64/.test(type)) return 64;
  if (/\blong\b|size_t/.test(type)) return longSize * 8;
  if (/\bshort\b|16/.test(type)) return 16;
  if (/\bchar\b|\bbool\b|8$/.test(type)) return 8;
  if (/\bint\b|32|pid_t/.test(type)) return 32;
  if (/gfp_t/.test(type)) return 32;
  return 0;
}

function call(fn: string, args: Expr[], ev: EventFormat, r: RecordView): Value {
  switch (fn) {
    case '__get_str':
    case '__get_rel_str': {
      const a = args[0];
      const name = a?.k === 'ident' ? a.name : a?.k === 'field' ? a.name : undefined;
      const f = name !== undefined ? ev.byName.get(name) : undefined;
      if (!f) throw new Error(`${fn} of an unknown field`);
      return String(readField(f, r));
    }
    case '__print_flags': {
      let v = num(evaluate(args[0], ev, r));
      const delim = String(evaluate(args[1], ev, r));
      const names: string[] = [];
      for (const item of args.slice(2)) {
        if (item.k !== 'list' || item.items.length !== 2) throw new Error('__print_flags needs {value, name} pairs');
        const bits = num(evaluate(item.items[0], ev, r));
        if (bits === 0n ? v === 0n : (v & bits) === bits) {
          names.push(String(evaluate(item.items[1], ev, r)));
          v &= ~bits;
          if (bits === 0n) break;
        }
      }
      if (v !== 0n) names.push(`0x${v.toString(16)}`);
      return names.join(delim);
    }
    case '__print_symbolic': {
      const v = num(evaluate(args[0], ev, r));
      for (const item of args.slice(1)) {
        if (item.k !== 'list' || item.items.length !== 2) throw new Error('__print_symbolic needs {value, name} pairs');
        if (num(evaluate(item.items[0], ev, r)) === v) return String(evaluate(item.items[1], ev, r));
      }
      return `0x${v.toString(16)}`;
    }
    default:
      throw new Error(`${fn}() is not evaluated`);
  }
}

// ---- printf ----

const CONV = /%([-+ #0]*)(\d+|\*)?(?:\.(\d+))?(hh|h|ll|l|L|z|j|t)?([diouxXcsp%])([SsFfBKxRr]?)/g;

/** The print format applied to the record, as libtraceevent prints it; throws when an argument cannot be evaluated. */
export function printEvent(ev: EventFormat, r: RecordView, symbols: Symbols): string {
  if (ev.args === undefined) throw new Error(ev.argsError ?? 'no print arguments');
  return formatPrintf(ev.fmt, ev.args.map((a) => evaluate(a, ev, r)), r.longSize, symbols);
}

/**
 * The arguments of a trace_printk() (the bprint event) as vbin_printf()
 * packed them in `buf`: each number at its size's alignment (char 1, short 2,
 * int 4, long and pointers the long size, long long 8), strings inline with
 * their NUL.
 */
export function unpackBinaryArgs(fmt: string, buf: Buffer, le: boolean, longSize: number): Value[] {
  const out: Value[] = [];
  let pos = 0;
  for (const m of fmt.matchAll(CONV)) {
    const [, , , , len, conv] = m;
    if (conv === '%') continue;
    if (conv === 's') {
      const z = buf.indexOf(0, pos);
      const end = z < 0 ? buf.length : z;
      out.push(buf.toString('utf8', pos, end));
      pos = end + 1;
      continue;
    }
    const size = conv === 'p' ? longSize : conv === 'c' || len === 'hh' ? 1 : len === 'h' ? 2 : len === 'll' || len === 'L' || len === 'j' ? 8 : len === 'l' || len === 'z' || len === 't' ? longSize : 4;
    pos = Math.ceil(pos / size) * size;
    if (pos + size > buf.length) {
      out.push(0n);
      continue;
    }
    const v = size === 8 ? (le ? buf.readBigUInt64LE(pos) : buf.readBigUInt64BE(pos)) : size === 4 ? BigInt(le ? buf.readUInt32LE(pos) : buf.readUInt32BE(pos)) : size === 2 ? BigInt(le ? buf.readUInt16LE(pos) : buf.readUInt16BE(pos)) : BigInt(buf[pos]);
    out.push(v);
    pos += size;
  }
  return out;
}

/** printf as the kernel's vsnprintf and libtraceevent print: %d %u %x %o %c %s %p with %pS/%ps (symbols), flags, width, precision, length. */
export function formatPrintf(fmt: string, values: Value[], longSize: number, symbols: Symbols): string {
  let argi = 0;
  const r = { longSize };
  return fmt.replace(CONV, (whole, flags: string, width: string | undefined, prec: string | undefined, len: string | undefined, conv: string, pext: string) => {
    if (conv === '%') return '%' + pext;
    if (argi >= values.length) throw new Error('fewer print arguments than conversions');
    let v = values[argi++];
    let body: string;
    let prefix = '';
    if (conv === 'p') {
      const n = num(v);
      if (pext === 'S' || pext === 's' || pext === 'F' || pext === 'f' || pext === 'B') {
        const sym = symbols.lookup(n);
        body = sym ? (pext === 's' || pext === 'f' || sym.offset === 0n ? sym.name : `${sym.name}+0x${sym.offset.toString(16)}`) : `0x${n.toString(16)}`;
        return pad(body, '', flags, width, false) + '';
      }
      body = n === 0n && pext === '' ? '(nil)' : `0x${n.toString(16)}`;
      return pad(body, '', flags, width, false) + (pext === 'x' || pext === 'K' || pext === '' ? '' : pext);
    }
    if (conv === 's') {
      body = typeof v === 'bigint' ? v.toString() : v;
      if (prec !== undefined) body = body.slice(0, Number(prec));
      return pad(body, '', flags, width, false);
    }
    if (conv === 'c') return pad(String.fromCharCode(Number(num(v) & 0xffn)), '', flags, width, false);
    if (typeof v === 'string') v = BigInt(v.length);
    const bits = len === 'll' || len === 'L' || len === 'j' || len === 'q' ? 64 : len === 'l' || len === 'z' || len === 't' ? r.longSize * 8 : len === 'h' ? 16 : len === 'hh' ? 8 : 32;
    if (conv === 'd' || conv === 'i') {
      const s = BigInt.asIntN(bits, v);
      body = (s < 0n ? -s : s).toString();
      prefix = s < 0n ? '-' : flags.includes('+') ? '+' : flags.includes(' ') ? ' ' : '';
    } else {
      const u = BigInt.asUintN(bits, v);
      if (conv === 'u') body = u.toString();
      else if (conv === 'o') {
        body = u.toString(8);
        if (flags.includes('#') && u !== 0n) prefix = '0';
      } else {
        body = u.toString(16);
        if (conv === 'X') body = body.toUpperCase();
        if (flags.includes('#') && u !== 0n) prefix = conv === 'X' ? '0X' : '0x';
      }
    }
    if (prec !== undefined) body = body.padStart(Number(prec), '0');
    return pad(body, prefix, flags, width, prec === undefined) + pext;
  });
}

function pad(body: string, prefix: string, flags: string, width: string | undefined, zeroOk: boolean): string {
  const w = width === undefined || width === '*' ? 0 : Number(width);
  const total = prefix.length + body.length;
  if (total >= w) return prefix + body;
  if (flags.includes('-')) return prefix + body + ' '.repeat(w - total);
  if (flags.includes('0') && zeroOk) return prefix + '0'.repeat(w - total) + body;
  return ' '.repeat(w - total) + prefix + body;
}

/** Every field but the common ones as `name=value` (what libtraceevent prints when the print format cannot be used). */
export function fieldsText(ev: EventFormat, r: RecordView): string {
  return ev.fields
    .filter((f) => !f.name.startsWith('common_'))
    .map((f) => {
      const v = readField(f, r);
      return `${f.name}=${typeof v === 'bigint' ? (f.signed ? v.toString() : `0x${v.toString(16)}`) : v}`;
    })
    .join(' ');
}
