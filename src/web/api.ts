/** Small typed wrappers over the server's JSON API; errors carry the server's hint. */
export class ApiError extends Error {
  constructor(
    message: string,
    readonly hint?: string,
  ) {
    super(message);
  }
}

export async function getJson<T>(url: string): Promise<T> {
  const response = await fetch(url);
  const body = (await response.json()) as T & { error?: string; hint?: string };
  if (!response.ok) throw new ApiError(body.error ?? `request failed (${response.status})`, body.hint);
  return body;
}

export async function postJson<T>(url: string, payload: unknown): Promise<T> {
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(payload) });
  const body = (await response.json()) as T & { error?: string; hint?: string };
  if (!response.ok) throw new ApiError(body.error ?? `request failed (${response.status})`, body.hint);
  return body;
}

export function el<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Record<string, string> = {}, ...children: (Node | string)[]): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  for (const child of children) node.append(child);
  return node;
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
