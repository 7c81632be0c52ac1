/**
 * The live fleet from the dispatcher (GET /api/v1/servers): sortable, filterable, and virtualised (only the
 * rows in view exist in the DOM), so 10,000 servers scroll as smoothly as 10. Drain/undrain ask for the
 * dispatcher's bearer token.
 */
import { ApiError, call } from './api.js';
import { age, el } from './dom.js';

const ROW_PX = 30;
const OVERSCAN = 8;
export const REFRESHES = ['', '2s', '5s', '10s', '30s'];

/** @typedef {{id: string, host: string, region: string, zone: string, state: string, participants: number, pending: number, capacity: number, rooms: number, load: number, score: number, grade: string, dataAgeMs: number, drained: boolean, full: boolean, excluded: {reason: string, detail: string} | null, notes: string[], limiting?: string | null}} Row */

/** @type {{key: string, label: string, get: (r: Row) => string | number, cls?: string}[]} */
const COLUMNS = [
  { key: 'id', label: 'Server', get: (r) => r.id },
  { key: 'region', label: 'Region', get: (r) => `${r.region}${r.zone ? `/${r.zone}` : ''}` },
  { key: 'status', label: 'State', get: (r) => status(r) },
  { key: 'participants', label: 'Participants', get: (r) => r.participants + r.pending, cls: 'num' },
  { key: 'load', label: 'Load', get: (r) => r.load, cls: 'num' },
  { key: 'score', label: 'Headroom', get: (r) => r.score, cls: 'num' },
  { key: 'limiting', label: 'Limiting signal', get: (r) => limiting(r) },
  { key: 'age', label: 'Data age', get: (r) => r.dataAgeMs, cls: 'num' },
];

/** @param {Row} r */
function status(r) {
  if (r.drained) return 'drained';
  if (r.excluded) return r.excluded.reason === 'full' ? 'full' : `excluded`;
  return r.state || 'serving';
}
/** @param {Row} r */
function limiting(r) {
  if (r.excluded) return `${r.excluded.reason}: ${r.excluded.detail}`;
  if (r.limiting) return r.limiting;
  return `participants ${r.participants + r.pending} of ${r.capacity}`;
}

/** The token, kept for this browser tab only. */
const TOKEN_KEY = 'rtcmon.dispatcher.token';

/**
 * Asks for the bearer token in a modal dialog (Enter confirms, Escape cancels).
 * @param {string} why
 * @returns {Promise<string | undefined>}
 */
export function askToken(why) {
  return new Promise((resolve) => {
    const input = /** @type {HTMLInputElement} */ (
      el('input', { type: 'password', id: 'token', autocomplete: 'off', required: '' })
    );
    const dialog = /** @type {HTMLDialogElement} */ (
      el(
        'dialog',
        { 'aria-labelledby': 'token-title' },
        el(
          'form',
          { method: 'dialog' },
          el('h2', { id: 'token-title' }, 'Dispatcher token'),
          el('p', {}, why),
          el('label', { for: 'token' }, 'Bearer token (rtcmon dispatcher --api.token)'),
          input,
          el(
            'div',
            { class: 'actions' },
            el('button', { value: 'cancel', type: 'button', class: 'cancel' }, 'Cancel'),
            el('button', { value: 'ok', type: 'submit' }, 'Send'),
          ),
        ),
      )
    );
    document.body.append(dialog);
    dialog.querySelector('.cancel')?.addEventListener('click', () => dialog.close('cancel'));
    dialog.addEventListener('close', () => {
      const ok = dialog.returnValue === 'ok' && input.value.trim() !== '';
      dialog.remove();
      resolve(ok ? input.value.trim() : undefined);
    });
    dialog.showModal();
    input.focus();
  });
}

/**
 * Drains or undrains one server, asking for the token when none is kept or the kept one is refused.
 * @param {string} id
 * @param {boolean} drain
 */
export async function setDrained(id, drain) {
  for (let attempt = 0; attempt < 3; attempt++) {
    let token = sessionStorage.getItem(TOKEN_KEY);
    if (!token) {
      token =
        (await askToken(`${drain ? 'Drain' : 'Undrain'} ${id}: the dispatcher asks for its bearer token.`)) ??
        null;
      if (!token) return undefined;
    }
    try {
      const r = await call(
        `/api/dispatcher/servers/${encodeURIComponent(id)}/${drain ? 'drain' : 'undrain'}`,
        {
          method: 'POST',
          headers: { authorization: `Bearer ${token}` },
        },
      );
      sessionStorage.setItem(TOKEN_KEY, token);
      return r;
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) {
        sessionStorage.removeItem(TOKEN_KEY);
        continue;
      }
      throw err;
    }
  }
  throw new ApiError(401, 'unauthorized', 'the dispatcher refused the token');
}

/**
 * @param {HTMLElement} root
 * @param {URLSearchParams} params
 */
export async function mountFleet(root, params) {
  document.title = 'Fleet · rtcmon console';
  const state = {
    sort: params.get('sort') ?? 'score',
    desc: params.get('order') !== 'asc',
    filter: params.get('q') ?? '',
    only: params.get('only') ?? '',
    refresh: params.get('refresh') ?? '5s',
  };
  /** @type {Row[]} */
  let all = [];
  /** @type {Row[]} */
  let shown = [];
  /** @type {any} */
  let meta = {};
  /** @type {ReturnType<typeof setInterval> | undefined} */
  let timer;
  let destroyed = false;

  const writeUrl = () => {
    const q = new URLSearchParams({ sort: state.sort, order: state.desc ? 'desc' : 'asc' });
    if (state.filter) q.set('q', state.filter);
    if (state.only) q.set('only', state.only);
    q.set('refresh', state.refresh);
    history.replaceState(null, '', `#/fleet?${q}`);
  };

  const filterIn = /** @type {HTMLInputElement} */ (
    el('input', {
      type: 'search',
      id: 'filter',
      placeholder: 'Filter: id, region, state, signal… ( / )',
      value: state.filter,
      size: '34',
    })
  );
  const onlySel = /** @type {HTMLSelectElement} */ (
    el(
      'select',
      { id: 'only', 'aria-label': 'Show' },
      ...[
        ['', 'All servers'],
        ['admissible', 'Taking new rooms'],
        ['drained', 'Drained'],
        ['excluded', 'Excluded'],
        ['full', 'Full'],
      ].map(([v, t]) => el('option', { value: v ?? '' }, t ?? '')),
    )
  );
  onlySel.value = state.only;
  const refreshSel = /** @type {HTMLSelectElement} */ (
    el(
      'select',
      { id: 'fleet-refresh', 'aria-label': 'Auto-refresh' },
      ...REFRESHES.map((r) => el('option', { value: r }, r ? `Every ${r}` : 'Auto-refresh off')),
    )
  );
  refreshSel.value = REFRESHES.includes(state.refresh) ? state.refresh : '5s';
  const summary = el('p', { class: 'summary', 'aria-live': 'polite' });
  const message = el('p', { class: 'message', role: 'status', 'aria-live': 'polite' });

  const header = el('div', { class: 'vt-head', role: 'row' });
  const headerCells = COLUMNS.map((c) => {
    const b = el('button', { type: 'button', 'data-key': c.key, class: c.cls ?? '' }, c.label);
    b.addEventListener('click', () => {
      if (state.sort === c.key) state.desc = !state.desc;
      else {
        state.sort = c.key;
        state.desc = c.cls === 'num';
      }
      apply();
    });
    const cell = el('span', { role: 'columnheader' }, b);
    header.append(cell);
    return cell;
  });
  header.append(el('span', { role: 'columnheader' }, 'Action'));
  const spacer = el('div', { class: 'vt-spacer' });
  const scroller = el(
    'div',
    { class: 'vt', tabindex: '0', role: 'rowgroup', 'aria-label': 'Servers' },
    spacer,
  );
  const tableBox = el(
    'div',
    { class: 'fleet', role: 'grid', 'aria-label': 'Fleet', 'aria-rowcount': '0' },
    header,
    scroller,
  );

  root.replaceChildren(
    el(
      'div',
      { class: 'toolbar' },
      el('h1', {}, 'Fleet'),
      el('label', { for: 'filter', class: 'sr-only' }, 'Filter'),
      filterIn,
      onlySel,
      refreshSel,
    ),
    summary,
    message,
    tableBox,
  );

  /** @type {{row: HTMLElement, cells: HTMLElement[], btn: HTMLButtonElement, index: number, id: string}[]} */
  const pool = [];
  const rowEl = () => {
    const cells = COLUMNS.map((c) => el('span', { role: 'gridcell', class: c.cls ?? '' }));
    const btn = /** @type {HTMLButtonElement} */ (el('button', { type: 'button', class: 'drain' }));
    const row = el('div', { class: 'vt-row', role: 'row' }, ...cells, el('span', { role: 'gridcell' }, btn));
    const slot = { row, cells, btn, index: -1, id: '' };
    btn.addEventListener('click', async () => {
      const r = shown[slot.index];
      if (!r) return;
      btn.disabled = true;
      try {
        const answer = await setDrained(r.id, !r.drained);
        if (answer) {
          message.textContent = answer.message ?? `${r.id}: done`;
          await load();
        }
      } catch (err) {
        message.textContent = `${r.id}: ${/** @type {Error} */ (err).message}`;
      } finally {
        btn.disabled = false;
      }
    });
    return slot;
  };

  let frame = 0;
  const render = () => {
    frame = 0;
    const top = scroller.scrollTop;
    const view = scroller.clientHeight || 600;
    const first = Math.max(0, Math.floor(top / ROW_PX) - OVERSCAN);
    const last = Math.min(shown.length, Math.ceil((top + view) / ROW_PX) + OVERSCAN);
    const need = last - first;
    while (pool.length < need) {
      const s = rowEl();
      pool.push(s);
      scroller.append(s.row);
    }
    for (let k = 0; k < pool.length; k++) {
      const s = /** @type {(typeof pool)[number]} */ (pool[k]);
      const i = first + k;
      const r = shown[i];
      if (!r) {
        s.row.hidden = true;
        s.index = -1;
        continue;
      }
      s.row.hidden = false;
      s.index = i;
      s.row.style.transform = `translateY(${i * ROW_PX}px)`;
      s.row.setAttribute('aria-rowindex', String(i + 2));
      s.row.dataset.id = r.id;
      s.row.dataset.state = status(r);
      const texts = [
        r.id,
        `${r.region}${r.zone ? `/${r.zone}` : ''}`,
        status(r),
        `${r.participants}${r.pending ? `+${r.pending}` : ''} / ${r.capacity}`,
        `${(r.load * 100).toFixed(0)}%`,
        r.score.toFixed(3),
        limiting(r),
        age(r.dataAgeMs),
      ];
      for (let c = 0; c < texts.length; c++) {
        const cell = /** @type {HTMLElement} */ (s.cells[c]);
        const t = /** @type {string} */ (texts[c]);
        if (cell.textContent !== t) cell.textContent = t;
      }
      /** @type {HTMLElement} */ (s.cells[6]).title = limiting(r);
      const label = r.drained ? 'Undrain' : 'Drain';
      if (s.btn.textContent !== label) s.btn.textContent = label;
      s.btn.setAttribute('aria-label', `${label} ${r.id}`);
    }
  };
  scroller.addEventListener('scroll', () => {
    if (!frame) frame = requestAnimationFrame(render);
  });
  scroller.addEventListener('keydown', (e) => {
    const k = /** @type {KeyboardEvent} */ (e).key;
    if (e.target !== scroller) return;
    if (k === 'ArrowDown') scroller.scrollTop += ROW_PX;
    else if (k === 'ArrowUp') scroller.scrollTop -= ROW_PX;
    else return;
    e.preventDefault();
  });

  const apply = () => {
    const q = state.filter.trim().toLowerCase();
    const col = COLUMNS.find((c) => c.key === state.sort) ?? COLUMNS[5];
    const get = /** @type {(r: Row) => string | number} */ (col?.get);
    shown = all.filter((r) => {
      if (state.only === 'drained' && !r.drained) return false;
      if (state.only === 'excluded' && !(r.excluded && r.excluded.reason !== 'full')) return false;
      if (state.only === 'full' && !r.full) return false;
      if (state.only === 'admissible' && (r.drained || r.excluded)) return false;
      if (!q) return true;
      return `${r.id} ${r.host} ${r.region} ${r.zone} ${status(r)} ${limiting(r)}`.toLowerCase().includes(q);
    });
    const dir = state.desc ? -1 : 1;
    shown.sort((a, b) => {
      const x = get(a);
      const y = get(b);
      const c = typeof x === 'number' && typeof y === 'number' ? x - y : String(x).localeCompare(String(y));
      return c === 0 ? a.id.localeCompare(b.id) : c * dir;
    });
    for (const h of headerCells) {
      const key = /** @type {HTMLElement} */ (h.firstChild).dataset.key;
      h.setAttribute('aria-sort', key === state.sort ? (state.desc ? 'descending' : 'ascending') : 'none');
    }
    spacer.style.height = `${shown.length * ROW_PX}px`;
    tableBox.setAttribute('aria-rowcount', String(shown.length + 1));
    const admissible = all.filter((r) => !r.drained && !r.excluded).length;
    summary.textContent = `${all.length} servers: ${admissible} taking new rooms, ${all.filter((r) => r.drained).length} drained, ${all.filter((r) => r.excluded && r.excluded.reason !== 'full').length} excluded, ${all.filter((r) => r.full).length} full · showing ${shown.length} · snapshot ${age(meta.dataAgeMs)} old · ledger ${meta.ledgerEntries ?? 0} · rooms ${meta.rooms ?? 0}${meta.blind ? ` · MONITORING BLIND for ${age(meta.blindForMs)}: answers come from the last good snapshot` : ''}`;
    summary.classList.toggle('blind', Boolean(meta.blind));
    writeUrl();
    render();
  };

  let loading = false;
  const load = async () => {
    if (loading) return;
    loading = true;
    try {
      const r = await call('/api/dispatcher/servers');
      if (destroyed) return;
      meta = r;
      all = r.servers ?? [];
      tableBox.dataset.loaded = String(all.length);
      if (message.dataset.error) {
        message.textContent = '';
        delete message.dataset.error;
      }
      apply();
    } catch (err) {
      message.dataset.error = 'true';
      message.textContent =
        err instanceof ApiError && err.unreachable
          ? `${err.message}. The list below is from the last answer.`
          : `Listing the fleet failed: ${/** @type {Error} */ (err).message}`;
    } finally {
      loading = false;
    }
  };

  filterIn.addEventListener('input', () => {
    state.filter = filterIn.value;
    apply();
  });
  onlySel.addEventListener('change', () => {
    state.only = onlySel.value;
    apply();
  });
  const schedule = () => {
    clearInterval(timer);
    const s = /^(\d+)s$/.exec(state.refresh);
    if (s) timer = setInterval(() => !document.hidden && void load(), Number(s[1]) * 1000);
  };
  refreshSel.addEventListener('change', () => {
    state.refresh = refreshSel.value;
    writeUrl();
    schedule();
  });
  const onKey = (/** @type {KeyboardEvent} */ e) => {
    const t = /** @type {HTMLElement} */ (e.target);
    if (e.key === '/' && !['INPUT', 'SELECT', 'TEXTAREA'].includes(t.tagName)) {
      e.preventDefault();
      filterIn.focus();
    }
  };
  document.addEventListener('keydown', onKey);

  await load();
  schedule();
  return {
    destroy() {
      destroyed = true;
      clearInterval(timer);
      document.removeEventListener('keydown', onKey);
      if (frame) cancelAnimationFrame(frame);
    },
  };
}
