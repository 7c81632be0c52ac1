/**
 * Renders one Grafana dashboard (the shipped JSON, fetched as is): variable and time pickers, auto-refresh,
 * and every panel drawn from Prometheus through the console (uPlot for time series and heatmaps).
 */
import uPlot from 'uplot';
import { ApiError, call, prom } from './api.js';
import { el } from './dom.js';
import {
  alignMatrix,
  builtins,
  cssColor,
  filterValues,
  flattenPanels,
  formatValue,
  heatmapCells,
  interpolate,
  PALETTE,
  parseDurationMs,
  parseTime,
  parseVariableQuery,
  queryInterval,
  reduce,
  thresholdColor,
} from './grafana.js';

export const RANGES = ['5m', '15m', '30m', '1h', '3h', '6h', '12h', '24h', '2d', '7d', '30d', '90d'];
export const REFRESHES = ['', '5s', '10s', '30s', '1m', '5m'];

/** What the bench and the browser test read: when every panel of the current load settled. */
const probe = /** @type {any} */ (window).__rtcmon ?? {};
/** @type {any} */ (window).__rtcmon = probe;

/**
 * @param {HTMLElement} root
 * @param {string} uid
 * @param {URLSearchParams} params from the location hash
 * @param {{scrapeIntervalMs: number}} settings
 */
export async function mountDashboard(root, uid, params, settings) {
  root.replaceChildren(el('p', { class: 'muted' }, 'Loading dashboard…'));
  const dash = await call(`/api/dashboards/${encodeURIComponent(uid)}`);
  document.title = `${dash.title ?? uid} · rtcmon console`;
  const state = {
    from: params.get('from') ?? dash.time?.from ?? 'now-1h',
    to: params.get('to') ?? dash.time?.to ?? 'now',
    refresh: params.get('refresh') ?? (typeof dash.refresh === 'string' ? dash.refresh : ''),
  };
  /** @type {Record<string, import('./grafana.js').VarState & {def: any}>} */
  const vars = {};
  let gen = 0;
  /** @type {ReturnType<typeof setInterval> | undefined} */
  let timer;
  const charts = new Map();
  const destroyed = { yes: false };

  const timeRange = () => {
    const now = Date.now();
    return { fromMs: parseTime(state.from, now), toMs: parseTime(state.to, now) };
  };

  const writeUrl = () => {
    const q = new URLSearchParams({ from: state.from, to: state.to });
    if (state.refresh) q.set('refresh', state.refresh);
    for (const [name, v] of Object.entries(vars)) for (const x of v.values) q.append(`var-${name}`, x);
    history.replaceState(null, '', `#/d/${encodeURIComponent(uid)}?${q}`);
  };

  // --- controls ---------------------------------------------------------------------------------------
  const varBar = el('div', { class: 'vars', role: 'group', 'aria-label': 'Variables' });
  const rangeSel = el(
    'select',
    { id: 'range', 'aria-label': 'Time range' },
    ...RANGES.map((r) => el('option', { value: `now-${r}` }, `Last ${r}`)),
    el('option', { value: 'custom' }, 'Custom'),
  );
  const fromIn = el('input', { id: 'from', 'aria-label': 'From', size: '16', value: state.from });
  const toIn = el('input', { id: 'to', 'aria-label': 'To', size: '16', value: state.to });
  const applyBtn = el('button', { type: 'button' }, 'Apply');
  const refreshSel = el(
    'select',
    { id: 'refresh', 'aria-label': 'Auto-refresh' },
    ...REFRESHES.map((r) => el('option', { value: r }, r ? `Every ${r}` : 'Auto-refresh off')),
  );
  const nowBtn = el('button', { type: 'button', title: 'Refresh now (r)' }, 'Refresh');
  const syncRangeControls = () => {
    const preset = state.to === 'now' && RANGES.includes(state.from.replace(/^now-/, ''));
    /** @type {HTMLSelectElement} */ (rangeSel).value = preset ? state.from : 'custom';
    /** @type {HTMLInputElement} */ (fromIn).value = state.from;
    /** @type {HTMLInputElement} */ (toIn).value = state.to;
    /** @type {HTMLSelectElement} */ (refreshSel).value = REFRESHES.includes(state.refresh)
      ? state.refresh
      : '';
  };
  rangeSel.addEventListener('change', () => {
    const v = /** @type {HTMLSelectElement} */ (rangeSel).value;
    if (v === 'custom') {
      /** @type {HTMLInputElement} */ (fromIn).focus();
      return;
    }
    state.from = v;
    state.to = 'now';
    syncRangeControls();
    writeUrl();
    void loadPanels();
  });
  applyBtn.addEventListener('click', () => {
    const f = /** @type {HTMLInputElement} */ (fromIn).value.trim();
    const t = /** @type {HTMLInputElement} */ (toIn).value.trim();
    try {
      const now = Date.now();
      if (parseTime(f, now) >= parseTime(t, now)) throw new Error('"from" must be before "to"');
    } catch (err) {
      rangeErr.textContent = String(/** @type {Error} */ (err).message);
      return;
    }
    rangeErr.textContent = '';
    state.from = f;
    state.to = t;
    syncRangeControls();
    writeUrl();
    void loadPanels();
  });
  for (const i of [fromIn, toIn])
    i.addEventListener('keydown', (e) => {
      if (/** @type {KeyboardEvent} */ (e).key === 'Enter') applyBtn.click();
    });
  refreshSel.addEventListener('change', () => {
    state.refresh = /** @type {HTMLSelectElement} */ (refreshSel).value;
    writeUrl();
    schedule();
  });
  nowBtn.addEventListener('click', () => void loadPanels());
  const rangeErr = el('span', { class: 'error', role: 'alert' });
  const toolbar = el(
    'div',
    { class: 'toolbar' },
    el('h1', {}, dash.title ?? uid),
    varBar,
    el(
      'div',
      { class: 'time', role: 'group', 'aria-label': 'Time range' },
      rangeSel,
      fromIn,
      toIn,
      applyBtn,
      rangeErr,
    ),
    el('div', { class: 'refresh' }, refreshSel, nowBtn),
  );
  const grid = el('div', { class: 'grid' });
  root.replaceChildren(toolbar, grid);
  syncRangeControls();

  // --- variables --------------------------------------------------------------------------------------
  const list = Array.isArray(dash.templating?.list) ? dash.templating.list : [];
  /** @param {any} def */
  const optionsOf = async (def) => {
    const { fromMs, toMs } = timeRange();
    const start = Math.floor(fromMs / 1000);
    const end = Math.ceil(toMs / 1000);
    switch (def.type) {
      case 'query': {
        const q = parseVariableQuery(def.definition && !def.query ? def.definition : def.query);
        if (!q) return [];
        const globals = builtins(fromMs, toMs, settings.scrapeIntervalMs, settings.scrapeIntervalMs);
        if (q.kind === 'labels')
          return filterValues(
            await prom.labelValues(
              q.label,
              q.match ? interpolate(q.match, vars, globals) : undefined,
              start,
              end,
            ),
            def.regex,
          );
        const r = await prom.instant(interpolate(q.expr, vars, globals), end);
        /** @type {string[]} */
        const lines = r.data.result.map(
          (/** @type {any} */ s) =>
            `${s.metric.__name__ ?? ''}{${Object.entries(s.metric)
              .filter(([k]) => k !== '__name__')
              .map(([k, v]) => `${k}="${v}"`)
              .join(',')}} ${s.value[1]} ${s.value[0] * 1000}`,
        );
        return filterValues(lines, def.regex);
      }
      case 'custom':
      case 'interval':
        return String(def.query ?? '')
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean);
      case 'constant':
      case 'textbox':
        return [String(def.query ?? def.current?.value ?? '')];
      case 'datasource':
        return ['prometheus'];
      default:
        return [];
    }
  };
  /** @param {any} def @param {string[]} options */
  const initialValues = (def, options) => {
    const fromUrl = params.getAll(`var-${def.name}`);
    const cur = def.current?.value;
    const wanted = fromUrl.length
      ? fromUrl
      : Array.isArray(cur)
        ? cur
        : cur !== undefined
          ? [String(cur)]
          : [];
    const valid = wanted.filter(
      (/** @type {string} */ v) =>
        options.includes(v) || (v === '$__all' && def.includeAll) || def.type === 'textbox',
    );
    if (valid.length) return def.multi ? valid : valid.slice(0, 1);
    if (def.includeAll) return ['$__all'];
    return options.length ? [options[0]] : [];
  };
  /** Resolves the variables from `index` on (a change re-resolves those after it: they may depend on it). */
  const resolveVars = async (index = 0) => {
    for (let k = index; k < list.length; k++) {
      const def = list[k];
      if (!def?.name) continue;
      let options = [];
      try {
        options = await optionsOf(def);
      } catch (err) {
        options = [];
        if (!(err instanceof ApiError && err.unreachable)) console.warn('variable', def.name, err);
      }
      const prev = vars[def.name];
      const values = prev
        ? prev.values.filter((v) => options.includes(v) || v === '$__all')
        : initialValues(def, options);
      vars[def.name] = {
        def,
        options,
        values: values.length ? values : initialValues({ ...def, current: undefined }, options),
        multi: Boolean(def.multi),
        includeAll: Boolean(def.includeAll),
        allValue: def.allValue ?? undefined,
      };
    }
    drawVarControls();
  };
  const drawVarControls = () => {
    const controls = [];
    for (const [k, def] of list.entries()) {
      const v = vars[def?.name];
      if (!v || def.hide === 2 || def.type === 'datasource' || def.type === 'constant') continue;
      const id = `var-${def.name}`;
      const sel = el(
        'select',
        {
          id,
          name: def.name,
          ...(v.multi ? { multiple: '', size: String(Math.min(4, v.options.length + 1)) } : {}),
        },
        ...(v.includeAll ? [el('option', { value: '$__all' }, 'All')] : []),
        ...v.options.map((o) => el('option', { value: o }, o)),
      );
      for (const o of /** @type {HTMLSelectElement} */ (sel).options) o.selected = v.values.includes(o.value);
      sel.addEventListener('change', async () => {
        const chosen = [.../** @type {HTMLSelectElement} */ (sel).selectedOptions].map((o) => o.value);
        // All and single values exclude each other, as in Grafana.
        v.values =
          chosen.includes('$__all') && chosen.length > 1 ? chosen.filter((x) => x !== '$__all') : chosen;
        if (!v.values.length && v.includeAll) v.values = ['$__all'];
        await resolveVars(k + 1);
        writeUrl();
        void loadPanels();
      });
      controls.push(el('label', { for: id, class: 'var' }, el('span', {}, def.label || def.name), sel));
    }
    varBar.replaceChildren(...controls);
  };

  // --- panels -----------------------------------------------------------------------------------------
  const panels = flattenPanels(dash);
  /** @type {{p: any, box: HTMLElement, body: HTMLElement}[]} */
  const boxes = [];
  let autoY = 0;
  for (const [n, p] of panels.entries()) {
    const gp = p.gridPos ?? { x: 0, y: autoY, w: 24, h: p.type === 'row' ? 1 : 8 };
    autoY = Math.max(autoY, (gp.y ?? 0) + (gp.h ?? 8));
    const style = `grid-column: ${(gp.x ?? 0) + 1} / span ${gp.w ?? 24}; grid-row: ${(gp.y ?? 0) + 1} / span ${gp.h ?? 8};`;
    if (p.type === 'row') {
      grid.append(el('h2', { class: 'row', style }, p.title ?? ''));
      continue;
    }
    const titleId = `panel-title-${n}`;
    const body = el('div', { class: 'body' });
    const box = el(
      'section',
      {
        class: 'panel',
        style,
        'data-state': 'loading',
        'data-type': p.type ?? '',
        'aria-labelledby': titleId,
      },
      el(
        'header',
        {},
        el('h3', { id: titleId }, p.title ?? ''),
        p.description
          ? el(
              'span',
              { class: 'desc', title: p.description, tabindex: '0', 'aria-label': p.description },
              'i',
            )
          : '',
      ),
      body,
    );
    grid.append(box);
    boxes.push({ p, box, body });
  }

  /**
   * @param {{box: HTMLElement, body: HTMLElement}} b
   * @param {'drawn' | 'nodata' | 'error'} st
   * @param {number} series
   * @param {string} [message]
   */
  const settle = (b, st, series, message) => {
    b.box.dataset.state = st;
    b.box.dataset.series = String(series);
    if (message !== undefined)
      b.body.replaceChildren(el('p', { class: st === 'error' ? 'error' : 'muted' }, message));
  };

  /** @param {{p: any, box: HTMLElement, body: HTMLElement}} b @param {number} g */
  const runPanel = async (b, g) => {
    const { p } = b;
    const targets = (p.targets ?? []).filter((/** @type {any} */ t) => !t.hide && t.expr);
    if (p.type === 'text') {
      b.body.replaceChildren(el('div', { class: 'text' }, p.options?.content ?? ''));
      settle(b, 'drawn', 0);
      return;
    }
    if (!targets.length) return settle(b, 'nodata', 0, 'This panel has no query.');
    const { fromMs, toMs } = timeRange();
    const width = Math.max(100, b.body.clientWidth);
    const minMs = Math.max(settings.scrapeIntervalMs, parseDurationMs(p.interval ?? '') || 0);
    const interval = queryInterval(fromMs, toMs, p.maxDataPoints ?? width, minMs);
    const globals = builtins(fromMs, toMs, interval, settings.scrapeIntervalMs);
    const step = interval / 1000;
    const start = Math.floor(fromMs / interval) * step;
    const end = Math.max(start, Math.floor(toMs / interval) * step);
    const instantPanel = p.type === 'table' || p.type === 'bargauge' || p.type === 'piechart';
    const answers = await Promise.all(
      targets.map(async (/** @type {any} */ t) => {
        const expr = interpolate(t.expr, vars, globals);
        const instant = t.instant === true && t.range !== true ? true : instantPanel && t.range !== true;
        const r = instant ? await prom.instant(expr, toMs / 1000) : await prom.range(expr, start, end, step);
        const result =
          r.data.resultType === 'scalar'
            ? [{ metric: {}, value: r.data.result }]
            : /** @type {any[]} */ (r.data.result);
        return {
          refId: t.refId ?? 'A',
          legendFormat: t.legendFormat,
          format: t.format,
          instant,
          result: instant
            ? result.map((s) => ({ metric: s.metric, values: s.value ? [s.value] : s.values }))
            : result,
        };
      }),
    );
    if (g !== gen || destroyed.yes) return;
    const { series, data } = alignMatrix(answers);
    b.box.dataset.sig = signature(series, data);
    if (!series.length || data.slice(1).every((ys) => ys.every((y) => y === null))) {
      charts.get(b.box)?.destroy();
      charts.delete(b.box);
      return settle(b, 'nodata', 0, series.length ? 'No data (every value is NaN or missing)' : 'No data');
    }
    draw(b, series, data, answers);
  };

  /**
   * @param {{p: any, box: HTMLElement, body: HTMLElement}} b
   * @param {import('./grafana.js').Series[]} series
   * @param {(number | null)[][]} data
   * @param {any[]} answers
   */
  const draw = (b, series, data, answers) => {
    const { p } = b;
    const d = p.fieldConfig?.defaults ?? {};
    const unit = d.unit;
    const decimals = d.decimals ?? undefined;
    const type = p.type ?? 'timeseries';
    if (type === 'stat' || type === 'gauge' || type === 'singlestat') {
      const calc = p.options?.reduceOptions?.calcs?.[0] ?? 'lastNotNull';
      const tiles = series.map((s, i) => {
        const v = reduce(data[i + 1] ?? [], calc);
        const color = v === null ? cssColor('text') : thresholdColor(v, d.thresholds, d);
        return el(
          'div',
          { class: 'stat', style: `--c: ${color}` },
          el('span', { class: 'value' }, formatValue(v, unit, decimals)),
          series.length > 1 ? el('span', { class: 'label' }, s.name) : '',
        );
      });
      charts.get(b.box)?.destroy();
      charts.delete(b.box);
      b.body.replaceChildren(el('div', { class: 'stats' }, ...tiles));
      return settle(b, 'drawn', series.length);
    }
    if (type === 'table') {
      b.body.replaceChildren(table(answers, unit, decimals, d.thresholds));
      return settle(b, 'drawn', series.length);
    }
    if (type === 'bargauge' || type === 'piechart') {
      const vals = series.map((s, i) => ({ s, v: reduce(data[i + 1] ?? [], 'lastNotNull') ?? 0 }));
      const max = d.max ?? Math.max(...vals.map((x) => x.v), 1e-12);
      b.body.replaceChildren(
        el(
          'div',
          { class: 'bars' },
          ...vals.map(({ s, v }, i) =>
            el(
              'div',
              { class: 'bar' },
              el('span', { class: 'label' }, s.name),
              el(
                'span',
                { class: 'track' },
                el('span', {
                  class: 'fill',
                  style: `width: ${Math.max(0, Math.min(100, (v / max) * 100))}%; background: ${d.thresholds ? thresholdColor(v, d.thresholds, d) : PALETTE[i % PALETTE.length]}`,
                }),
              ),
              el('span', { class: 'value' }, formatValue(v, unit, decimals)),
            ),
          ),
        ),
      );
      return settle(b, 'drawn', series.length);
    }
    const width = Math.max(100, b.body.clientWidth);
    const height = Math.max(60, b.body.clientHeight - (type === 'heatmap' ? 0 : 28));
    const key = `${type}:${series.map((s) => s.name).join('\u0000')}`;
    const old = charts.get(b.box);
    if (type === 'heatmap') {
      const cells = heatmapCells(data, series);
      const hdata = /** @type {any} */ ([data[0], (data[0] ?? []).map(() => 0)]);
      if (old && old.key === key) {
        old.cells = cells;
        old.setData(hdata);
        old.redraw();
      } else {
        old?.destroy();
        const u = heatmap(cells, hdata, width, height, unit);
        /** @type {any} */ (u).key = key;
        b.body.replaceChildren(u.root);
        charts.set(b.box, u);
      }
      return settle(b, 'drawn', series.length);
    }
    if (old && old.key === key) old.setData(data);
    else {
      old?.destroy();
      const u = new uPlot(
        {
          width,
          height,
          legend: { show: series.length <= 16, live: false },
          cursor: { drag: { x: false, y: false } },
          scales: { x: { time: true }, y: yScale(d.min, d.max) },
          axes: [
            { stroke: '#9aa0a6', grid: { stroke: '#2b3036', width: 1 }, ticks: { stroke: '#2b3036' } },
            {
              stroke: '#9aa0a6',
              grid: { stroke: '#2b3036', width: 1 },
              ticks: { stroke: '#2b3036' },
              size: 72,
              values: (_u, ticks) => ticks.map((v) => formatValue(v, unit, decimals)),
            },
          ],
          series: [
            {},
            ...series.map((s, i) => ({
              label: s.name,
              stroke: PALETTE[i % PALETTE.length],
              width: 1.5,
              spanGaps: false,
              value: (/** @type {any} */ _u, /** @type {number | null} */ v) =>
                formatValue(v, unit, decimals),
            })),
          ],
        },
        /** @type {any} */ (data),
      );
      /** @type {any} */ (u).key = key;
      b.body.replaceChildren(u.root);
      charts.set(b.box, u);
    }
    settle(b, 'drawn', series.length);
  };

  const loadPanels = async () => {
    const g = ++gen;
    const t0 = performance.now();
    for (const b of boxes) b.box.dataset.loading = 'true';
    await Promise.all(
      boxes.map((b) =>
        runPanel(b, g).catch((err) => {
          if (g !== gen) return;
          const msg = err instanceof ApiError ? err.message : String(err);
          settle(b, 'error', 0, msg);
        }),
      ),
    );
    if (g !== gen || destroyed.yes) return;
    for (const b of boxes) delete b.box.dataset.loading;
    // Drawn means painted: wait for the frame after the charts were drawn.
    await new Promise((r) => requestAnimationFrame(() => setTimeout(r, 0)));
    probe.loads = (probe.loads ?? 0) + 1;
    probe.last = {
      uid,
      gen: g,
      startedMs: t0,
      settledMs: performance.now(),
      states: boxes.map((b) => b.box.dataset.state),
    };
    grid.dataset.gen = String(g);
    grid.dispatchEvent(new CustomEvent('rtcmon:drawn', { bubbles: true, detail: probe.last }));
  };

  const schedule = () => {
    clearInterval(timer);
    const ms = parseDurationMs(state.refresh);
    if (Number.isFinite(ms) && ms > 0)
      timer = setInterval(() => {
        if (!document.hidden) void loadPanels();
      }, ms);
  };

  const onKey = (/** @type {KeyboardEvent} */ e) => {
    const t = /** @type {HTMLElement} */ (e.target);
    if (e.key === 'r' && !e.ctrlKey && !e.metaKey && !['INPUT', 'SELECT', 'TEXTAREA'].includes(t.tagName))
      void loadPanels();
  };
  document.addEventListener('keydown', onKey);
  let resizeTimer = 0;
  const onResize = () => {
    clearTimeout(resizeTimer);
    resizeTimer = window.setTimeout(() => {
      for (const b of boxes) {
        const u = charts.get(b.box);
        if (u)
          u.setSize({
            width: Math.max(100, b.body.clientWidth),
            height: Math.max(60, b.body.clientHeight - (b.p.type === 'heatmap' ? 0 : 28)),
          });
      }
    }, 150);
  };
  window.addEventListener('resize', onResize);

  await resolveVars();
  writeUrl();
  schedule();
  await loadPanels();

  return {
    destroy() {
      destroyed.yes = true;
      clearInterval(timer);
      document.removeEventListener('keydown', onKey);
      window.removeEventListener('resize', onResize);
      for (const u of charts.values()) u.destroy();
      charts.clear();
    },
  };
}

/**
 * The y scale: automatic, or pinned where the field config sets min and/or max (the other end follows the data).
 * @param {number | undefined} min
 * @param {number | undefined} max
 */
function yScale(min, max) {
  if (min === undefined && max === undefined) return {};
  return {
    range: (/** @type {any} */ _u, /** @type {number | null} */ lo, /** @type {number | null} */ hi) => {
      const a = min ?? lo ?? 0;
      let b = max ?? (hi === null ? a + 1 : hi + (hi - a) * 0.05);
      if (!(b > a)) b = a + (Math.abs(a) || 1);
      return [a, b];
    },
  };
}

/**
 * A short fingerprint of what a panel got (series, points, first time, sum of values): the browser test
 * and the bench compare it to see that a new range or variable value changed the data.
 * @param {import('./grafana.js').Series[]} series
 * @param {(number | null)[][]} data
 */
function signature(series, data) {
  let sum = 0;
  for (let i = 1; i < data.length; i++) for (const y of data[i] ?? []) if (y !== null) sum += y;
  const xs = data[0] ?? [];
  return `${series.map((s) => s.name).join('|')}#${xs.length}@${xs[0] ?? ''}-${xs[xs.length - 1] ?? ''}=${sum.toPrecision(8)}`;
}

/**
 * Instant answers of every target, merged by label set (Grafana's "merge" transform): one row per series.
 * @param {any[]} answers
 * @param {string | undefined} unit
 * @param {number | undefined} decimals
 * @param {any} thresholds
 */
function table(answers, unit, decimals, thresholds) {
  /** @type {Map<string, {labels: Record<string,string>, values: Record<string, number>}>} */
  const rows = new Map();
  const labelCols = new Set();
  const valueCols = answers.length > 1 ? answers.map((a) => `Value #${a.refId}`) : ['Value'];
  for (const [k, a] of answers.entries())
    for (const s of a.result) {
      const { __name__, ...labels } = s.metric;
      for (const l of Object.keys(labels)) labelCols.add(l);
      const id = JSON.stringify(Object.entries(labels).sort());
      const row = rows.get(id) ?? { labels, values: {} };
      const last = s.values[s.values.length - 1];
      row.values[/** @type {string} */ (valueCols[k])] = last ? Number(last[1]) : Number.NaN;
      rows.set(id, row);
    }
  const cols = [...labelCols];
  const first = valueCols[0] ?? 'Value';
  const sorted = [...rows.values()].sort(
    (x, y) => (y.values[first] ?? -Infinity) - (x.values[first] ?? -Infinity),
  );
  return el(
    'div',
    { class: 'table-wrap' },
    el(
      'table',
      {},
      el(
        'thead',
        {},
        el(
          'tr',
          {},
          ...cols.map((c) => el('th', { scope: 'col' }, c)),
          ...valueCols.map((c) => el('th', { scope: 'col' }, c)),
        ),
      ),
      el(
        'tbody',
        {},
        ...sorted.map((r) =>
          el(
            'tr',
            {},
            ...cols.map((c) => el('td', {}, r.labels[c] ?? '')),
            ...valueCols.map((c) => {
              const v = r.values[c];
              return el(
                'td',
                {
                  class: 'num',
                  style: v !== undefined && thresholds ? `color: ${thresholdColor(v, thresholds)}` : '',
                },
                formatValue(v, unit, decimals),
              );
            }),
          ),
        ),
      ),
    ),
  );
}

/**
 * A heatmap: uPlot draws the time axis and bucket labels; a draw hook paints one cell per bucket and step,
 * brighter for more observations.
 * @param {{rows: string[], counts: number[][], max: number}} cells
 * @param {any} data
 * @param {number} width
 * @param {number} height
 * @param {string | undefined} _unit
 */
function heatmap(cells, data, width, height, _unit) {
  const paint = (/** @type {any} */ self) => {
    const c = self.cells ?? cells;
    const xs = self.data[0];
    const ctx = self.ctx;
    const n = c.rows.length;
    if (!n || !xs.length) return;
    ctx.save();
    const top = self.bbox.top;
    const h = self.bbox.height / n;
    const px = xs.map((/** @type {number} */ x) => self.valToPos(x, 'x', true));
    const w = xs.length > 1 ? Math.max(1, px[1] - px[0]) : self.bbox.width;
    for (let r = 0; r < n; r++) {
      const row = c.counts[r];
      for (let t = 0; t < xs.length; t++) {
        const v = row[t];
        if (!v) continue;
        const a = 0.15 + 0.85 * Math.sqrt(v / (c.max || 1));
        ctx.fillStyle = `rgba(255, 120, 20, ${a.toFixed(3)})`;
        ctx.fillRect(px[t] - w / 2, top + (n - 1 - r) * h, w + 0.5, h - 1);
      }
    }
    ctx.restore();
  };
  /** @type {any} */
  const u = new uPlot(
    {
      width,
      height,
      legend: { show: false },
      cursor: { drag: { x: false, y: false } },
      scales: { x: { time: true }, y: { auto: false, range: [0, Math.max(1, cells.rows.length)] } },
      axes: [
        { stroke: '#9aa0a6', grid: { show: false } },
        {
          stroke: '#9aa0a6',
          size: 72,
          grid: { show: false },
          splits: () => cells.rows.map((_, i) => i + 0.5),
          values: (/** @type {any} */ self, /** @type {number[]} */ splits) =>
            splits.map((s) => (self.cells ?? cells).rows[Math.floor(s)] ?? ''),
        },
      ],
      series: [{}, { label: 'count', stroke: 'transparent', points: { show: false } }],
      hooks: { draw: [paint] },
    },
    data,
  );
  u.cells = cells;
  return u;
}
