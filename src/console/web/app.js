/** The console's page: navigation, the route in the location hash, and a banner for unreachable upstreams. */
import { ApiError, call, onApiError } from './api.js';
import { mountDashboard } from './dashboard.js';
import { el } from './dom.js';
import { mountFleet } from './fleet.js';
import { mountWhy } from './why.js';

const main = /** @type {HTMLElement} */ (document.getElementById('main'));
const nav = /** @type {HTMLElement} */ (document.getElementById('nav'));
const banner = /** @type {HTMLElement} */ (document.getElementById('banner'));

/** @type {{destroy(): void} | undefined} */
let mounted;
/** @type {{scrapeIntervalMs: number}} */
let settings = { scrapeIntervalMs: 15_000 };

/** Upstreams reported unreachable, by name, until a status check sees them answer again. */
const down = new Map();
const drawBanner = () => {
  const lines = [...down.values()];
  banner.hidden = lines.length === 0;
  banner.replaceChildren(...lines.map((l) => el('p', {}, l)));
};
onApiError((e) => {
  if (!(e instanceof ApiError) || !e.unreachable) return;
  const who = e.type.startsWith('dispatcher')
    ? 'dispatcher'
    : e.type.startsWith('prometheus')
      ? 'prometheus'
      : 'console';
  down.set(
    who,
    `${e.message}. ${who === 'prometheus' ? 'Charts cannot be drawn until it answers.' : who === 'dispatcher' ? 'The fleet list and allocations are unavailable until it answers.' : ''}`,
  );
  drawBanner();
});
const checkStatus = async () => {
  try {
    const s = await call('/api/status');
    for (const who of ['prometheus', 'dispatcher']) {
      if (s[who].ok) down.delete(who);
      else
        down.set(
          who,
          `${s[who].error}. ${who === 'prometheus' ? 'Charts cannot be drawn until it answers.' : 'The fleet list and allocations are unavailable until it answers.'}`,
        );
    }
    down.delete('console');
  } catch {
    // reported by onApiError
  }
  drawBanner();
};

function markCurrent() {
  const path = (location.hash.replace(/^#/, '') || '/').split('?')[0];
  for (const a of nav.querySelectorAll('a')) a.removeAttribute('aria-current');
  nav.querySelector(`a[href="#${path}"]`)?.setAttribute('aria-current', 'page');
}

async function route() {
  const hash = location.hash.replace(/^#/, '') || '/';
  const [path = '/', query = ''] = hash.split('?');
  const params = new URLSearchParams(query);
  mounted?.destroy();
  mounted = undefined;
  markCurrent();
  try {
    const d = /^\/d\/([^/]+)$/.exec(path);
    if (d) mounted = await mountDashboard(main, decodeURIComponent(d[1] ?? ''), params, settings);
    else if (path === '/fleet') mounted = await mountFleet(main, params);
    else if (path === '/why') mounted = await mountWhy(main, params);
    else {
      const first = nav.querySelector('a[data-dashboard]');
      location.replace(first ? /** @type {HTMLAnchorElement} */ (first).href : '#/fleet');
    }
  } catch (err) {
    main.replaceChildren(
      el(
        'p',
        { class: 'error', role: 'alert' },
        `This page failed: ${err instanceof Error ? err.message : err}`,
      ),
    );
  }
  main.focus({ preventScroll: true });
}

async function start() {
  // The settings, the dashboard list and the page's own data are fetched at once, not one after another.
  const settingsP = call('/api/settings').then(
    (x) => {
      settings = x;
    },
    () => {},
  );
  const listP = call('/api/dashboards').then(
    (x) => x.dashboards,
    (err) => {
      banner.hidden = false;
      banner.textContent = `The dashboards could not be listed: ${/** @type {Error} */ (err).message}`;
      return [];
    },
  );
  void listP.then((dashboards) => {
    nav.replaceChildren(
      ...dashboards.map((/** @type {any} */ d) =>
        el('a', { href: `#/d/${encodeURIComponent(d.uid)}`, 'data-dashboard': d.uid }, d.title),
      ),
      el('a', { href: '#/fleet' }, 'Fleet'),
      el('a', { href: '#/why' }, 'Why'),
    );
    markCurrent();
  });
  window.addEventListener('hashchange', () => void route());
  void checkStatus();
  setInterval(() => void checkStatus(), 10_000);
  await settingsP;
  if (!/^#\/(d\/|fleet|why)/.test(location.hash)) await listP;
  await route();
}

void start();
