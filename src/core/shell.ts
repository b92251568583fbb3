/** Text as one word of a POSIX shell command, whatever it holds: single-quoted, each quote closed, escaped and reopened. */
export function shellQuoted(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

/** Text as one shell word, quoted only when it needs to be (a path with a space, say): what a command shown to copy uses. */
export function shellWord(text: string): string {
  return /^[\w./@%+=:,-]+$/.test(text) ? text : shellQuoted(text);
}
