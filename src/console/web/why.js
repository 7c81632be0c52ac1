/**
 * "Why": one allocation answer from the dispatcher, explained — the chosen server and its reasons, the next
 * candidates with their scores, every excluded server with its reason, and the data age.
 */
import { ApiError, call } from './api.js';
import { age, el } from './dom.js';

/**
 * @param {HTMLElement} root
 * @param {URLSearchParams} params
 */
export async function mountWhy(root, params) {
  document.title = 'Why · rtcmon console';
  const room = /** @type {HTMLInputElement} */ (
    el('input', {
      id: 'why-room',
      required: '',
      value: params.get('room') ?? `console-why-${Date.now().toString(36)}`,
      size: '28',
    })
  );
  const region = /** @type {HTMLSelectElement} */ (
    el('select', { id: 'why-region' }, el('option', { value: '' }, 'any region'))
  );
  const out = el('div', { class: 'why-answer', 'aria-live': 'polite' });
  const form = el(
    'form',
    { class: 'toolbar' },
    el('h1', {}, 'Why this server?'),
    el('label', { for: 'why-room' }, 'Room'),
    room,
    el('label', { for: 'why-region' }, 'Region'),
    region,
    el('button', { type: 'submit' }, 'Ask the dispatcher'),
  );
  root.replaceChildren(
    form,
    el(
      'p',
      { class: 'muted' },
      'The dispatcher has no dry-run: this asks for a real allocation (POST /api/v1/allocate), exactly what a joining client gets. ' +
        'It counts as one pending participant of the room on the chosen server until the metrics show it or the ledger entry expires (ledger.max-age), and the room keeps its server. Use a room name no client uses.',
    ),
    out,
  );
  call('/api/dispatcher/servers')
    .then((r) => {
      const regions = [...new Set((r.servers ?? []).map((/** @type {any} */ s) => s.region))].sort();
      for (const x of regions) region.append(el('option', { value: String(x) }, String(x)));
      if (params.get('region')) region.value = params.get('region') ?? '';
    })
    .catch(() => {});

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    out.replaceChildren(el('p', { class: 'muted' }, 'Asking…'));
    const body = { room: room.value.trim(), ...(region.value ? { region: region.value } : {}) };
    history.replaceState(null, '', `#/why?${new URLSearchParams(body)}`);
    try {
      const a = await call('/api/dispatcher/allocate', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
        accept: [503],
      });
      out.replaceChildren(...explain(a));
      out.dataset.answered = a.ok ? 'ok' : 'none';
    } catch (err) {
      out.dataset.answered = 'error';
      out.replaceChildren(el('p', { class: 'error' }, err instanceof ApiError ? err.message : String(err)));
    }
  });
  return { destroy() {} };
}

/** @param {any} a an allocate answer */
function explain(a) {
  const parts = [];
  parts.push(
    el(
      'p',
      { class: a.ok ? 'verdict ok' : 'verdict none' },
      a.ok
        ? `Room ${a.room} → ${a.server.id} (${a.server.eip}:${a.server.port}, ${a.server.region}${a.server.zone ? `/${a.server.zone}` : ''}), headroom ${a.server.score.toFixed(3)}, load ${(a.server.load * 100).toFixed(0)}%`
        : `No server for room ${a.room}: ${a.message}`,
    ),
  );
  parts.push(
    el(
      'p',
      { class: 'muted' },
      `Data age ${age(a.dataAgeMs)}${a.blind ? ` · MONITORING BLIND for ${age(a.blindForMs)} (answered from the last good snapshot)` : ''} · room servers: ${a.roomServers.join(', ') || '–'}${a.spilled ? ' · the room spilled to another server' : ''}`,
    ),
  );
  if (a.message && a.ok) parts.push(el('p', {}, a.message));
  const reasons = [...(a.reasons ?? []), ...(a.server?.reasons ?? [])];
  if (reasons.length)
    parts.push(el('h2', {}, 'Reasons'), el('ul', {}, ...reasons.map((r) => el('li', {}, r))));
  const cands = [...(a.server ? [a.server] : []), ...(a.candidates ?? [])];
  if (cands.length)
    parts.push(
      el('h2', {}, 'Candidates, best first'),
      el(
        'table',
        { class: 'candidates' },
        el(
          'thead',
          {},
          el(
            'tr',
            {},
            ...['', 'Server', 'Region', 'Headroom', 'Load', 'Participants', 'Why'].map((h) =>
              el('th', { scope: 'col' }, h),
            ),
          ),
        ),
        el(
          'tbody',
          {},
          ...cands.map((c, i) =>
            el(
              'tr',
              i === 0 && a.ok ? { class: 'chosen' } : {},
              el('td', {}, i === 0 && a.ok ? 'chosen' : `#${i + 1}`),
              el('td', {}, c.id),
              el('td', {}, `${c.region}${c.zone ? `/${c.zone}` : ''}`),
              el('td', { class: 'num' }, c.score.toFixed(3)),
              el('td', { class: 'num' }, `${(c.load * 100).toFixed(0)}%`),
              el(
                'td',
                { class: 'num' },
                `${c.participants}${c.pending ? `+${c.pending}` : ''} / ${c.capacity}`,
              ),
              el('td', {}, (c.reasons ?? []).join('; ')),
            ),
          ),
        ),
      ),
    );
  const counts = Object.entries(a.excludedCounts ?? {});
  if (counts.length || a.excluded?.length)
    parts.push(
      el('h2', {}, `Excluded: ${counts.map(([k, v]) => `${v} ${k}`).join(', ') || 'none'}`),
      el(
        'table',
        { class: 'excluded' },
        el(
          'thead',
          {},
          el(
            'tr',
            {},
            el('th', { scope: 'col' }, 'Server'),
            el('th', { scope: 'col' }, 'Reason'),
            el('th', { scope: 'col' }, 'Detail'),
          ),
        ),
        el(
          'tbody',
          {},
          ...(a.excluded ?? []).map((x) =>
            el('tr', {}, el('td', {}, x.id), el('td', {}, x.reason), el('td', {}, x.detail)),
          ),
        ),
      ),
    );
  return parts;
}
