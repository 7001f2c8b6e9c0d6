// Registered endpoints: create with an event filter, rotate, enable/disable, delete. A signing
// secret is shown once, right after it is made: the API never returns it again.
import { api } from '../api.js';
import { copyButton, errorBox, h, pageHeader, replace, shortId, time } from '../ui.js';

const EVENT_TYPES = ['task.completed', 'task.failed', 'task.canceled', 'task.target.completed', 'task.target.failed', 'endpoint.disabled'];

/**
 * @param {string} secret
 * @param {string} what
 * @param {() => void} dismiss
 */
function secretCallout(secret, what, dismiss) {
  return h(
    'div.notice.secret',
    { role: 'status' },
    h('strong', null, `${what} Copy the signing secret now — it is not shown again.`),
    h('div.secret-row', null, h('code.secret-value', null, secret), copyButton(secret)),
    h('p.small', null, 'Verify each delivery’s webhook-signature header with it (Standard Webhooks). ', h('button.link', { type: 'button', onclick: dismiss }, 'I have stored it')),
  );
}

/** @param {import('../app.js').PageContext} ctx */
export async function endpointsPage({ main, signal }) {
  const callout = h('div');
  const listEl = h('div.card.flush');
  const url = h('input', { name: 'url', type: 'url', required: true, placeholder: 'https://your.app/hooks/hookwave' });
  const description = h('input', { name: 'description', maxlength: 500, placeholder: 'optional' });
  const boxes = EVENT_TYPES.map((t) => h('input', { type: 'checkbox', name: 'events', value: t }));
  const status = h('div.form-status');
  const create = h('button.primary', { type: 'submit' }, 'Create endpoint');
  const form = h(
    'form.card.form',
    {
      onsubmit: async (/** @type {SubmitEvent} */ ev) => {
        ev.preventDefault();
        replace(status);
        const events = boxes.filter((b) => b.checked).map((b) => b.value);
        create.disabled = true;
        try {
          const e = await api('POST', '/v1/endpoints', {
            signal,
            body: { url: url.value.trim(), description: description.value.trim() || null, events: events.length ? events : null },
          });
          form.reset();
          showSecret(e.secret, `Endpoint ${shortId(e.id)} created.`);
          await load();
        } catch (err) {
          if (!signal.aborted) replace(status, errorBox(err));
        } finally {
          create.disabled = false;
        }
      },
    },
    h('h2', null, 'Add an endpoint'),
    h('label', null, 'URL', url),
    h('label', null, 'Description', description),
    h(
      'fieldset.chips',
      null,
      h('legend', null, 'Events (none checked = all)'),
      boxes.map((b, i) => h('label.chip', null, b, EVENT_TYPES[i])),
    ),
    status,
    h('div.actions', null, create),
  );

  replace(
    main,
    pageHeader('Endpoints'),
    h('p.muted', null, 'Standing receivers for all of your tasks’ events, each with its own secret and filter — besides any webhook_url a task names.'),
    callout,
    listEl,
    form,
  );

  /**
   * @param {string} secret
   * @param {string} what
   */
  function showSecret(secret, what) {
    replace(callout, secretCallout(secret, what, () => replace(callout)));
  }

  /**
   * @param {HTMLButtonElement} btn
   * @param {() => Promise<void>} fn
   */
  async function act(btn, fn) {
    btn.disabled = true;
    try {
      await fn();
      await load();
    } catch (err) {
      if (!signal.aborted) callout.append(errorBox(err));
    } finally {
      btn.disabled = false;
    }
  }

  /** @param {any} e */
  function row(e) {
    const health = [];
    if (!e.enabled) health.push(h('span.badge', { dataset: { status: 'disabled' } }, 'disabled'));
    else if (e.circuit_open_until) health.push(h('span.badge', { dataset: { status: 'failed' } }, 'circuit open'));
    else if (e.consecutive_failures > 0) health.push(h('span.badge', { dataset: { status: 'pending' } }, `${e.consecutive_failures} failing`));
    else health.push(h('span.badge', { dataset: { status: 'delivered' } }, 'healthy'));
    if (e.disabled_reason) health.push(h('div.muted.small', null, e.disabled_reason));
    if (e.previous_secret_expires_at) health.push(h('div.muted.small', null, 'old secret valid until ', time(e.previous_secret_expires_at)));

    const toggle = h('button.small', { type: 'button', onclick: () => act(toggle, () => api('PATCH', `/v1/endpoints/${e.id}`, { signal, body: { enabled: !e.enabled } })) }, e.enabled ? 'Disable' : 'Enable');
    const rotate = h(
      'button.small',
      {
        type: 'button',
        title: 'New secret; the old one keeps signing alongside it for 24 hours',
        onclick: () =>
          act(rotate, async () => {
            const r = await api('POST', `/v1/endpoints/${e.id}/rotate-secret`, { signal });
            showSecret(r.secret, `Secret of ${shortId(e.id)} rotated; the old one stays valid until ${new Date(r.previous_secret_expires_at).toLocaleString()}.`);
          }),
      },
      'Rotate secret',
    );
    // Two clicks instead of a modal confirm(): the second click on the same spot deletes.
    const del = h(
      'button.small.danger',
      {
        type: 'button',
        onclick: () => {
          if (del.dataset.armed !== 'true') {
            del.dataset.armed = 'true';
            del.textContent = 'Really delete?';
            setTimeout(() => {
              del.dataset.armed = '';
              del.textContent = 'Delete';
            }, 4000);
            return;
          }
          void act(del, () => api('DELETE', `/v1/endpoints/${e.id}`, { signal }));
        },
      },
      'Delete',
    );
    return h(
      'tr',
      { dataset: { endpointId: e.id, enabled: String(e.enabled) } },
      h('td.url', null, h('span', { title: e.url }, e.url), h('div.muted.small', null, e.description ?? '', e.description ? ' · ' : '', h('span.mono', { title: e.id }, shortId(e.id)))),
      h('td', null, e.events ? e.events.map((/** @type {string} */ t) => h('code.tag', null, t)) : h('span.muted', null, 'all events')),
      h('td', null, health),
      h('td', null, h('a', { href: `#/deliveries?endpoint_id=${e.id}` }, 'Deliveries')),
      h('td.actions', null, h('div.row-actions', null, toggle, rotate, del)),
    );
  }

  async function load() {
    const res = await api('GET', '/v1/endpoints', { signal });
    if (!res.data.length) {
      replace(listEl, h('p.empty', null, 'No endpoints yet.'));
      return;
    }
    replace(
      listEl,
      h(
        'table.list.endpoints',
        null,
        h('thead', null, h('tr', null, h('th', null, 'URL'), h('th', null, 'Events'), h('th', null, 'Health'), h('th', null, ''), h('th', null, ''))),
        h('tbody', null, res.data.map(row)),
      ),
    );
  }
  await load();
}
