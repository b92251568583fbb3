/**
 * line-feeds.wat assembled: the line count's inner loop as WebAssembly SIMD. Kept as bytes so the
 * product needs no assembler; line-feeds.test.ts assembles the text with wabt and checks the two
 * are the same module.
 */
export const LINE_FEEDS_WASM = 'AGFzbQEAAAABBgFgAX8BfwMCAQAFAwEAEQYLAn8BQQALfwFBAAsHKgQGbWVtb3J5AgAIYmxhbmtfbGYDAApibGFua19jcmxmAwEFY291bnQAAAq7AQG4AQIEfwJ7AkADQCABIABPDQEgAf0ABAD9DAoKCgoKCgoKCgoKCgoKCgr9IyEFIAH9AAQB/QwKCgoKCgoKCgoKCgoKCgoK/SMhBiACIAX9ZGlqIQIgAyAFIAb9Tv1kaWohAyAEIAUgAf0ABAH9DA0NDQ0NDQ0NDQ0NDQ0NDQ39I/1OIAH9AAQC/QwKCgoKCgoKCgoKCgoKCgoK/SP9Tv1kaWohBCABQRBqIQEMAAsLIAMkACAEJAEgAgs=';
