import { el, getJson } from './api.js';
import { catalogPage } from './pages/catalog.js';
import { dashboardPage } from './pages/dashboard.js';
import { jobPage } from './pages/job.js';
import { jobsPage } from './pages/jobs.js';
import { labPage } from './pages/lab.js';
import { streamsPage } from './pages/streams.js';

const main = document.getElementById('main')!;
let leave: (() => void) | undefined;
/** Counts navigations: a page that finishes loading after the reader moved on is closed at once. */
let navigation = 0;

async function open(path: string): Promise<() => void> {
  const [, section = '', rest = ''] = path.split('/');
  const param = decodeURIComponent(rest);
  if (section === 'lab') return labPage(main);
  if (section === 'catalog') return catalogPage(main, param);
  if (section === 'streams') return streamsPage(main);
  if (section === 'jobs') return param ? jobPage(main, param) : jobsPage(main);
  const project = await getJson<{ dashboards: { name: string; title: string }[] }>('/api/project');
  const name = param || project.dashboards[0]?.name;
  if (!name) {
    main.replaceChildren(el('h1', {}, 'No dashboards yet'), el('p', {}, 'Declare one under `dashboards` in tributary.config.ts.'));
    return () => undefined;
  }
  return dashboardPage(main, name);
}

async function route(): Promise<void> {
  leave?.();
  leave = undefined;
  const current = ++navigation;
  const path = location.pathname;
  const section = ['lab', 'catalog', 'streams', 'jobs'].find((s) => path === `/${s}` || path.startsWith(`/${s}/`)) ?? 'dashboards';
  document.querySelectorAll<HTMLAnchorElement>('[data-nav]').forEach((a) => a.classList.toggle('active', a.dataset.nav === section));
  try {
    const close = await open(path);
    if (current === navigation) leave = close;
    else close();
  } catch (error) {
    if (current === navigation) main.replaceChildren(el('div', { class: 'message error' }, (error as Error).message));
  }
}

// Links inside the app change the page without a reload (a modified click still opens a new tab).
document.addEventListener('click', (event) => {
  if (event.button !== 0 || event.ctrlKey || event.metaKey || event.shiftKey || event.altKey) return;
  const link = (event.target as HTMLElement).closest('a');
  if (!link || link.origin !== location.origin || link.hasAttribute('download')) return;
  event.preventDefault();
  history.pushState(null, '', link.pathname);
  void route();
});
window.addEventListener('popstate', () => void route());
void getJson<{ name: string; client: string | null }>('/api/project').then((p) => {
  document.getElementById('project')!.textContent = p.client ? `${p.name} · ${p.client}` : p.name;
  // A client token opens its dashboards and the lab; the other pages are the admin's.
  if (p.client) document.querySelectorAll('[data-nav="catalog"], [data-nav="streams"], [data-nav="jobs"]').forEach((link) => link.remove());
});
void route();
