// The delivery log: every event sent to every receiver, each attempt as the receiver saw it, and
// Redeliver (the same webhook-id and bytes, so receivers that deduplicate stay correct).
import { api } from '../api.js';
import { badge, errorBox, h, kvTable, pageHeader, replace, shortId, time } from '../ui.js';

const DELIVERY_STATUSES = ['pending', 'delivered', 'failed'];

/** @param {any} a */
function attemptView(a) {
  const ok = a.status_code !== null && a.status_code >= 200 && a.status_code < 300;
  return h(
    'article.attempt',
    { dataset: { attempt: a.attempt_number } },
    h(
      'header',
      null,
      h('strong', null, `Attempt ${a.attempt_number}`),
      h('span.badge', { dataset: { status: ok ? 'delivered' : 'failed' } }, a.status_code === null ? 'no answer' : `HTTP ${a.status_code}`),
      h('span.muted', null, a.latency_ms === null ? '' : `${a.latency_ms} ms`),
      time(a.started_at),
    ),
    a.error ? h('p.attempt-error', null, a.error) : null,
    h(
      'div.attempt-grid',
      null,
      h('section', null, h('h4', null, 'Request headers'), kvTable(a.request_headers)),
      h('section', null, h('h4', null, 'Response headers'), kvTable(a.response_headers)),
    ),
    h('h4', null, 'Response body (excerpt)'),
    a.response_excerpt ? h('pre.excerpt', null, a.response_excerpt) : h('p.muted', null, 'empty'),
  );
}

/** @param {any} d a delivery with its attempts */
export function attemptsView(d) {
  if (!d.attempts || !d.attempts.length) return h('p.muted', null, d.status === 'pending' ? 'Not tried yet.' : 'No attempts recorded.');
  return h('div.attempts', null, [...d.attempts].reverse().map(attemptView));
}

/**
 * Redeliver and follow the delivery until it has an outcome.
 * @param {string} id
 * @param {AbortSignal} signal
 * @param {(d: any) => void} onUpdate
 */
export async function redeliver(id, signal, onUpdate) {
  await api('POST', `/v1/deliveries/${id}/redeliver`, { signal });
  const deadline = Date.now() + 60_000;
  for (;;) {
    await new Promise((r) => setTimeout(r, 300));
    if (signal.aborted) return;
    const d = await api('GET', `/v1/deliveries/${id}`, { signal });
    onUpdate(d);
    if (d.status !== 'pending' || Date.now() > deadline) return;
  }
}

/**
 * @param {any} d
 * @param {AbortSignal} signal
 * @param {(d: any) => void} onUpdate
 */
export function redeliverButton(d, signal, onUpdate) {
  // A pending delivery waiting for its next attempt is retried now and keeps its schedule; an ended one gets one more attempt.
  const retry = d.status === 'pending';
  const btn = h(
    'button.redeliver',
    {
      type: 'button',
      title: retry
        ? 'Send it now instead of at its next attempt; if it fails, the retry schedule goes on'
        : 'Send the same event again now, with the same webhook-id',
      onclick: async () => {
        btn.disabled = true;
        btn.textContent = retry ? 'Retrying…' : 'Redelivering…';
        try {
          await redeliver(d.id, signal, onUpdate);
        } catch (err) {
          if (!signal.aborted) btn.replaceWith(errorBox(err));
        }
      },
    },
    retry ? 'Retry now' : 'Redeliver',
  );
  return btn;
}

/** @param {string} raw */
function prettyJson(raw) {
  try {
    return JSON.stringify(JSON.parse(raw), null, 2);
  } catch {
    return raw;
  }
}

/** @param {any} d */
function receiverCell(d) {
  return h(
    'td.url',
    null,
    h('span', { title: d.url }, d.url),
    h('div.muted.small', null, d.endpoint_id ? h('a', { href: '#/endpoints' }, `endpoint ${shortId(d.endpoint_id)}`) : "task's webhook_url"),
  );
}

/** @param {import('../app.js').PageContext} ctx */
export async function deliveriesPage({ main, signal, query, go }) {
  const status = query.get('status') ?? '';
  const taskId = query.get('task_id') ?? '';
  const endpointId = query.get('endpoint_id') ?? '';
  const statusSelect = h(
    'select',
    {
      name: 'status',
      onchange: () => {
        const q = new URLSearchParams(query);
        if (statusSelect.value) q.set('status', statusSelect.value);
        else q.delete('status');
        go(`#/deliveries${q.toString() ? `?${q}` : ''}`);
      },
    },
    h('option', { value: '' }, 'All statuses'),
    DELIVERY_STATUSES.map((s) => h('option', { value: s, selected: s === status }, s)),
  );
  const tbody = h('tbody');
  const empty = h('p.empty', { hidden: true }, 'No deliveries yet. They appear when events are sent to a webhook_url or an endpoint.');
  const more = h('button', { type: 'button', hidden: true }, 'Load more');
  replace(
    main,
    pageHeader('Deliveries'),
    h(
      'div.filters',
      null,
      h('label', null, 'Status', statusSelect),
      taskId ? h('span.chip', null, `task ${shortId(taskId)} `, h('a', { href: '#/deliveries' }, '×')) : null,
      endpointId ? h('span.chip', null, `endpoint ${shortId(endpointId)} `, h('a', { href: '#/deliveries' }, '×')) : null,
    ),
    h(
      'div.card.flush',
      null,
      h(
        'table.list.deliveries',
        null,
        h('thead', null, h('tr', null, h('th', null, 'Delivery'), h('th', null, 'Event'), h('th', null, 'Task'), h('th', null, 'Receiver'), h('th', null, 'Status'), h('th.num', null, 'Attempts'), h('th.num', null, 'Last'), h('th', null, 'Created'), h('th', null, ''))),
        tbody,
      ),
      empty,
    ),
    more,
  );

  /** @type {string | null} */
  let cursor = null;
  let pages = 0;
  let lastSnapshot = '';

  /** @param {any} d */
  const row = (d) =>
    h(
      'tr',
      { dataset: { deliveryId: d.id, status: d.status } },
      h('td', null, h('a.mono', { href: `#/deliveries/${d.id}`, title: d.id }, shortId(d.id))),
      h('td', null, h('code', null, d.event_type ?? '—')),
      h('td', null, d.task_id ? h('a.mono', { href: `#/tasks/${d.task_id}`, title: d.task_id }, shortId(d.task_id)) : '—'),
      receiverCell(d),
      h('td', null, badge(d.status)),
      h('td.num', null, String(d.attempt_count)),
      h('td.num', null, d.last_status_code ?? '—'),
      h('td', null, time(d.created_at)),
      h('td.actions', null, h('div.row-actions', null, d.status === 'failed' ? redeliverButton(d, signal, () => void load(null).catch(() => undefined)) : null)),
    );

  async function load(/** @type {string | null} */ after) {
    const q = new URLSearchParams({ limit: '50' });
    if (status) q.set('status', status);
    if (taskId) q.set('task_id', taskId);
    if (endpointId) q.set('endpoint_id', endpointId);
    if (after) q.set('cursor', after);
    const page = await api('GET', `/v1/deliveries?${q}`, { signal });
    // Unchanged polls leave the rows alone, so a click or a selection is not lost under the pointer.
    const snapshot = JSON.stringify(page);
    if (!after && snapshot === lastSnapshot) return;
    if (!after) {
      lastSnapshot = snapshot;
      tbody.replaceChildren();
    }
    for (const d of page.data) tbody.append(row(d));
    cursor = page.next_cursor;
    pages = after ? pages + 1 : 1;
    more.hidden = !cursor;
    empty.hidden = tbody.children.length > 0;
  }
  more.addEventListener('click', () => void load(cursor));
  await load(null);

  // Deliveries change without an event (retries, outcomes); refresh the first page while it is all that is shown.
  const poll = setInterval(() => {
    if (!document.hidden && pages === 1) void load(null).catch(() => undefined);
  }, 3000);
  signal.addEventListener('abort', () => clearInterval(poll));
}

/** @param {import('../app.js').PageContext} ctx */
export async function deliveryPage({ main, signal, params }) {
  const id = params[0] ?? '';
  const head = h('div');
  const summary = h('div.card');
  const attempts = h('div');
  const body = h('pre.excerpt.request-body');
  replace(main, head, summary, h('h2', null, 'Attempts'), attempts, h('h2', null, 'Request body'), body);

  /** @param {any} d */
  function render(d) {
    replace(
      head,
      pageHeader(`Delivery ${shortId(d.id)}`, badge(d.status), redeliverButton(d, signal, render)),
    );
    head.dataset.status = d.status;
    replace(
      summary,
      h(
        'dl.grid',
        null,
        h('dt', null, 'Event'),
        h('dd', null, h('code', null, d.event_type ?? '—')),
        h('dt', null, 'webhook-id'),
        h('dd', null, h('code.webhook-id', null, d.event_id)),
        h('dt', null, 'Task'),
        h('dd', null, d.task_id ? h('a.mono', { href: `#/tasks/${d.task_id}` }, d.task_id) : '—'),
        h('dt', null, 'Receiver'),
        h('dd.url', null, d.url, d.endpoint_id ? h('span.muted', null, ` (endpoint ${d.endpoint_id})`) : h('span.muted', null, " (task's webhook_url)")),
        h('dt', null, 'Attempts'),
        h('dd', null, String(d.attempt_count)),
        h('dt', null, 'Last answer'),
        h('dd', null, d.last_status_code ?? '—', d.last_error ? h('span.muted', null, ` ${d.last_error}`) : null),
        h('dt', null, 'Next attempt'),
        h('dd', null, time(d.next_attempt_at)),
        h('dt', null, 'Created'),
        h('dd', null, time(d.created_at)),
        h('dt', null, 'Delivered'),
        h('dd', null, time(d.delivered_at)),
      ),
    );
    replace(attempts, attemptsView(d));
    // The exact bytes every attempt sends and signs.
    body.textContent = d.request_body ? prettyJson(d.request_body) : '—';
  }

  let d = await api('GET', `/v1/deliveries/${id}`, { signal });
  render(d);
  // A pending delivery is still being retried: follow it until it settles.
  while (d.status === 'pending' && !signal.aborted) {
    await new Promise((r) => setTimeout(r, 1000));
    if (signal.aborted) return;
    d = await api('GET', `/v1/deliveries/${id}`, { signal });
    render(d);
  }
}
