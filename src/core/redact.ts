/**
 * Text with the secrets it may hold hidden: a URL's password (`scheme://user:password@host`, each
 * host of a list), a NATS URL's token (`nats://token@host`) and a connection string's
 * `password=…`. For what is shown or logged of a value that came from the environment, where
 * such URLs live.
 */
export function redact(text: string): string {
  return text
    .replace(/(:\/\/|,)([^\s:/@,]*):[^\s@/,]*@/g, '$1$2:***@')
    .replace(/(nats:\/\/)[^\s:/@,]+@/gi, '$1***@')
    .replace(/(password=)\S+/gi, '$1***');
}
