import { el, getJson } from './api.js';
import { catalogPage } from './pages/catalog.js';
import { dashboardPage } from './pages/dashboard.js';
import { labPage } from './pages/lab.js';
import { streamsPage } from './pages/streams.js';

const main = document.getElementById('main')!;
let leave: (() => void) | undefined;

async function route(): Promise<void> {
  leave?.();
  leave = undefined;
  const path = location.pathname;
  const section = path.startsWith('/lab') ? 'lab' : path.startsWith('/catalog') ? 'catalog' : path.startsWith('/streams') ? 'streams' : 'dashboards';
  document.querySelectorAll<HTMLAnchorElement>('[data-nav]').forEach((a) => a.classList.toggle('active', a.dataset.nav === section));
  try {
    if (section === 'lab') leave = await labPage(main);
    else if (section === 'catalog') leave = await catalogPage(main, decodeURIComponent(path.split('/')[2] ?? ''));
    else if (section === 'streams') leave = await streamsPage(main);
    else {
      const project = await getJson<{ dashboards: { name: string; title: string }[] }>('/api/project');
      const name = path.split('/')[2] ?? project.dashboards[0]?.name;
      if (!name) {
        main.replaceChildren(el('h1', {}, 'No dashboards yet'), el('p', {}, 'Declare one under `dashboards` in tributary.config.ts.'));
        return;
      }
      leave = await dashboardPage(main, name);
    }
  } catch (error) {
    main.replaceChildren(el('div', { class: 'message error' }, (error as Error).message));
  }
}

// Links inside the app change the page without a reload.
document.addEventListener('click', (event) => {
  const link = (event.target as HTMLElement).closest('a');
  if (!link || link.origin !== location.origin || link.hasAttribute('download')) return;
  event.preventDefault();
  history.pushState(null, '', link.pathname);
  void route();
});
window.addEventListener('popstate', () => void route());
void getJson<{ name: string }>('/api/project').then((p) => (document.getElementById('project')!.textContent = p.name));
void route();
