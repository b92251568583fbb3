/** C0 controls but the line feed and the tab, DEL, and the C1 controls. */
const CONTROL = /[\x00-\x08\x0b-\x1f\x7f-\x9f]/g;

/**
 * Text that came from data (a quarantined line, a dead letter, a reason quoting a value), made safe
 * to print on a terminal: a control character in it would move the cursor, recolour or retitle the
 * terminal, or hide what follows. Each C0 control and DEL shows as its Unicode control picture
 * (␀, ␍, ␛…), a C1 control as its escape; line feeds and tabs stay.
 */
export function printable(text: string): string {
  return text.replace(CONTROL, (c) => {
    const code = c.charCodeAt(0);
    if (code < 0x20) return String.fromCharCode(0x2400 + code);
    return code === 0x7f ? '\u2421' : `\\u${code.toString(16).padStart(4, '0')}`;
  });
}
