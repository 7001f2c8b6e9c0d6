// DOM building and formatting. Everything the server or a webhook receiver sent is set as text,
// never as HTML: response bodies and headers are whatever a receiver chose to answer.

/**
 * @typedef {string | number | Node | null | undefined | false} Child
 * @typedef {Record<string, any>} Attrs
 */

/**
 * `h('a.link', { href }, 'text')`: a tag with optional classes after dots, attributes, and children.
 * Attributes starting with "on" become listeners; `dataset`, `hidden`, `disabled`, `value`, `checked`
 * are set as properties.
 * @param {string} tag
 * @param {Attrs | null} [attrs]
 * @param {...(Child | Child[])} children
 * @returns {any}
 */
export function h(tag, attrs, ...children) {
  const [name, ...classes] = tag.split('.');
  const el = document.createElement(name || 'div');
  if (classes.length) el.className = classes.join(' ');
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2).toLowerCase(), v);
    else if (k === 'class') el.classList.add(...String(v).split(/\s+/).filter(Boolean));
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (['hidden', 'disabled', 'value', 'checked', 'selected', 'required', 'multiple'].includes(k)) /** @type {any} */ (el)[k] = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

/**
 * @param {Element} el
 * @param {(Child | Child[])[]} children
 */
export function append(el, children) {
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : String(c));
  }
}

/**
 * @param {Element} el
 * @param {...(Child | Child[])} children
 */
export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/** @param {string} status */
export function badge(status) {
  return h('span.badge', { dataset: { status } }, status);
}

/**
 * A progress bar whose width is set through the CSSOM, which the CSP allows (style attributes it would not).
 * @param {number} fraction 0..1
 * @param {string} [status] colours it: a failed or canceled bar must not read as done
 */
export function progressBar(fraction, status) {
  const fill = h('span.fill');
  const bar = h('span.progress', { role: 'progressbar', 'aria-valuemin': '0', 'aria-valuemax': '100' }, fill);
  setProgress(bar, fraction, status);
  return bar;
}

/**
 * @param {HTMLElement} bar
 * @param {number} fraction
 * @param {string} [status]
 */
export function setProgress(bar, fraction, status) {
  const pct = Math.round(Math.max(0, Math.min(1, fraction)) * 100);
  bar.setAttribute('aria-valuenow', String(pct));
  if (status) bar.dataset.status = status;
  const state = bar.dataset.status;
  bar.title = state === 'failed' || state === 'canceled' ? `${state} at ${pct}%` : `${pct}%`;
  const fill = /** @type {HTMLElement | null} */ (bar.firstElementChild);
  if (fill) fill.style.width = `${pct}%`;
}

/** @param {string | null | undefined} iso */
export function time(iso) {
  if (!iso) return h('span.muted', null, '—');
  const d = new Date(iso);
  return h('time', { datetime: iso, title: d.toLocaleString() }, ago(d));
}

/** @param {Date} d */
export function ago(d) {
  const s = Math.round((Date.now() - d.getTime()) / 1000);
  const abs = Math.abs(s);
  if (abs < 5) return 'just now';
  const span = abs < 60 ? `${abs}s` : abs < 3600 ? `${Math.floor(abs / 60)}m` : abs < 86400 ? `${Math.floor(abs / 3600)}h` : null;
  if (!span) return d.toLocaleString();
  // Next attempts and secret overlaps lie ahead.
  return s > 0 ? `${span} ago` : `in ${span}`;
}

/** @param {number | null | undefined} n */
export function bytes(n) {
  if (n === null || n === undefined) return '—';
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

/** @param {number | null | undefined} s */
export function seconds(s) {
  if (s === null || s === undefined) return '—';
  if (s < 60) return `${s.toFixed(s < 10 ? 2 : 1)} s`;
  const m = Math.floor(s / 60);
  return `${m}:${String(Math.round(s - m * 60)).padStart(2, '0')} min`;
}

/** @param {number | null | undefined} c */
export function cost(c) {
  if (c === null || c === undefined) return '—';
  return c.toLocaleString(undefined, { maximumFractionDigits: 6 });
}

/** @param {string} id */
export function shortId(id) {
  return id.length > 16 ? `${id.slice(0, id.indexOf('_') + 1)}…${id.slice(-8)}` : id;
}

/**
 * @param {string} text
 * @param {string} [label]
 */
export function copyButton(text, label = 'Copy') {
  const btn = h('button.small', {
    type: 'button',
    onclick: async () => {
      try {
        await navigator.clipboard.writeText(text);
        btn.textContent = 'Copied';
      } catch {
        btn.textContent = 'Select and copy';
      }
      setTimeout(() => (btn.textContent = label), 1500);
    },
  }, label);
  return btn;
}

/**
 * @param {unknown} err
 * @returns {any}
 */
export function errorBox(err) {
  const e = /** @type {any} */ (err);
  const field = e && e.details && e.details.field ? ` (${e.details.field})` : '';
  return h('div.notice.error', { role: 'alert' }, e && e.code ? h('strong', null, `${e.code}: `) : null, `${e && e.message ? e.message : String(err)}${field}`);
}

/** @param {Record<string, string | number | null | undefined> | null | undefined} obj */
export function kvTable(obj) {
  const rows = Object.entries(obj ?? {});
  if (!rows.length) return h('p.muted', null, 'none');
  return h('table.kv', null, h('tbody', null, rows.map(([k, v]) => h('tr', null, h('th', null, k), h('td', null, h('code', null, v ?? ''))))));
}

/**
 * Free-form JSON (params, info, metadata) as a key/value list a person reads at a glance: nested
 * objects become nested lists, lists of plain values a comma-separated line.
 * @param {unknown} value
 * @returns {any}
 */
export function valueList(value) {
  if (value === null || value === undefined) return h('span.muted', null, '—');
  if (Array.isArray(value)) {
    if (!value.length) return h('span.muted', null, 'none');
    if (value.every((v) => v === null || typeof v !== 'object')) return h('span.value', null, value.map(plain).join(', '));
    return h('ol.values', null, value.map((v) => h('li', null, valueList(v))));
  }
  if (typeof value === 'object') {
    const entries = Object.entries(/** @type {Record<string, unknown>} */ (value));
    if (!entries.length) return h('span.muted', null, 'none');
    return h('dl.values', null, entries.flatMap(([k, v]) => [h('dt', null, k), h('dd', null, valueList(v))]));
  }
  return h('span.value', null, plain(value));
}

/** @param {unknown} v */
function plain(v) {
  if (v === null || v === undefined) return '—';
  if (typeof v === 'boolean') return v ? 'yes' : 'no';
  return String(v);
}

/**
 * What a page shows for something that is not there (an unknown address, or an id the API does not
 * know), with the way back to the task list.
 * @param {string} message
 */
export function notFoundView(message) {
  return h(
    'div.card.not-found',
    null,
    h('h1', null, 'Not found'),
    h('p', null, message),
    h('p', null, h('a.button.primary', { href: '#/tasks' }, 'Back to Tasks')),
  );
}

/**
 * @param {string} title
 * @param {...(Child | Child[])} actions
 */
export function pageHeader(title, ...actions) {
  return h('div.page-head', null, h('h1', null, title), h('div.actions', null, ...actions));
}
