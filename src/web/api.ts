/** Small typed wrappers over the server's JSON API; errors carry the server's hint and the HTTP status. */
export class ApiError extends Error {
  constructor(
    message: string,
    readonly hint?: string,
    readonly status?: number,
  ) {
    super(message);
  }
}

/** The body as JSON; a non-JSON error page (a proxy, a crash) still becomes an ApiError, not a SyntaxError. */
async function parse<T>(response: Response): Promise<T> {
  const text = await response.text();
  let body: (T & { error?: string; hint?: string }) | undefined;
  try {
    body = JSON.parse(text) as T & { error?: string; hint?: string };
  } catch {
    body = undefined;
  }
  if (!response.ok) throw new ApiError(body?.error ?? `request failed (${response.status} ${response.statusText})`, body?.hint, response.status);
  if (body === undefined) throw new ApiError(`the server answered ${response.url} with something that is not JSON`, undefined, response.status);
  return body;
}

export async function getJson<T>(url: string): Promise<T> {
  return parse<T>(await fetch(url));
}

export async function postJson<T>(url: string, payload: unknown): Promise<T> {
  return parse<T>(await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(payload) }));
}

export function el<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Record<string, string> = {}, ...children: (Node | string)[]): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  for (const child of children) node.append(child);
  return node;
}

/** An error as the pages show it: the message, then the server's hint (what to do about it). */
export function errorMessage(error: unknown, id: string): HTMLElement {
  const e = error instanceof ApiError ? error : new ApiError(error instanceof Error ? error.message : String(error));
  return el(
    'div',
    { class: 'message error', id, ...(e.status ? { 'data-status': String(e.status) } : {}) },
    e.message,
    ...(e.hint ? [el('div', {}, `→ ${e.hint}`)] : []),
  );
}

export function dataTable(rows: Record<string, unknown>[], columns?: string[]): HTMLTableElement {
  const names = columns ?? Object.keys(rows[0] ?? {});
  const table = el('table', { class: 'data' });
  table.append(el('thead', {}, el('tr', {}, ...names.map((n) => el('th', {}, n)))));
  const body = el('tbody');
  for (const row of rows) body.append(el('tr', {}, ...names.map((n) => el('td', { title: show(row[n]) }, show(row[n])))));
  table.append(body);
  return table;
}

export function show(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

export function formatNumber(value: unknown, format?: string): string {
  const n = Number(value);
  if (!Number.isFinite(n)) return show(value);
  if (format === 'currency') return n.toLocaleString('en-US', { style: 'currency', currency: 'USD', maximumFractionDigits: 0 });
  if (format === 'percent') return `${(n * 100).toFixed(1)}%`;
  return n.toLocaleString('en-US', { maximumFractionDigits: 2 });
}
