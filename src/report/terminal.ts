/**
 * Trace content printed for a terminal: task names, payloads, file names and
 * unreadable lines come from the input, and a control character in them
 * (ESC starting a CSI or OSC sequence, BEL, a C1 control, CR) would be acted
 * on by the terminal: colours, a changed window title, a hyperlink, a line
 * overwritten. Every text printer passes what it prints through here, so each
 * such character shows as its escape (`\x1b`, `\x9b`) instead. JSON and SARIF
 * escape them by being JSON; the HTML report escapes for HTML.
 */

/** C0 controls but tab and newline, DEL, and the C1 controls. */
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g;

/** `s` with every control character (but tab and newline) written as `\xHH`. */
export function termText(s: string): string {
  CONTROL.lastIndex = 0;
  if (!CONTROL.test(s)) return s;
  return s.replace(CONTROL, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

/**
 * A copy of `value` with termText applied to every string in it (in arrays
 * and plain objects, at any depth): a report made safe to render as text in
 * one step, whatever field the text printer shows.
 */
export function termSafe<T>(value: T): T {
  if (typeof value === 'string') return termText(value) as T;
  if (Array.isArray(value)) return value.map((v: unknown) => termSafe(v)) as T;
  if (value !== null && typeof value === 'object') {
    const proto = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== null) return value;
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = termSafe(v);
    return out as T;
  }
  return value;
}
