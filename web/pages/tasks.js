// The task list: filters in the URL, rows kept live by the tenant's event stream plus per-task
// progress streams for the running ones.
import { api, stream } from '../api.js';
import { badge, cost, errorBox, h, pageHeader, progressBar, replace, setProgress, shortId, time } from '../ui.js';
import { loadKinds } from '../kinds.js';

export const STATUSES = ['queued', 'processing', 'completed', 'failed', 'canceled'];
const ACTIVE = ['queued', 'processing'];
// Browsers allow six HTTP/1.1 connections per origin; the page keeps room for its API calls and audio.
const MAX_PROGRESS_STREAMS = 3;

/**
 * How far the task's work got: a failed or canceled target counts for the progress it had made, so a
 * failed task's bar shows where it stopped instead of reading as done.
 * @param {any} task
 */
export function taskProgress(task) {
  if (task.status === 'completed') return 1;
  const ts = task.targets ?? [];
  if (!ts.length) return 0;
  return ts.reduce((/** @type {number} */ sum, /** @type {any} */ t) => sum + (t.status === 'completed' ? 1 : t.progress), 0) / ts.length;
}

/** @param {import('../app.js').PageContext} ctx */
export async function tasksPage({ main, signal, query }) {
  let status = query.get('status') ?? '';
  let kind = query.get('kind') ?? '';
  // Filters apply in place (the list reloads, the field keeps focus) and the address follows, so it
  // can be shared or reloaded; typing replaces the history entry instead of adding one per keystroke.
  const setFilter = (/** @type {'status' | 'kind'} */ k, /** @type {string} */ v, /** @type {'push' | 'replace'} */ how) => {
    if ((k === 'status' ? status : kind) === v) return;
    if (k === 'status') status = v;
    else kind = v;
    const q = new URLSearchParams(location.hash.split('?')[1] ?? '');
    if (v) q.set(k, v);
    else q.delete(k);
    const hash = `#/tasks${q.toString() ? `?${q}` : ''}`;
    if (how === 'push') history.pushState(null, '', hash);
    else history.replaceState(null, '', hash);
    void reload();
  };

  const statusSelect = h(
    'select',
    { name: 'status', onchange: () => setFilter('status', statusSelect.value, 'push') },
    h('option', { value: '' }, 'All statuses'),
    STATUSES.map((s) => h('option', { value: s, selected: s === status }, s)),
  );
  let typing = 0;
  const kindInput = h('input', {
    name: 'kind',
    type: 'search',
    list: 'kinds',
    placeholder: 'Any kind',
    value: kind,
    size: 12,
    autocomplete: 'off',
    spellcheck: 'false',
    // Each keystroke (and a pick from the suggestions) filters, after a short pause so a word typed quickly is one request.
    oninput: () => {
      clearTimeout(typing);
      typing = window.setTimeout(() => setFilter('kind', kindInput.value.trim(), 'replace'), 200);
    },
  });
  signal.addEventListener('abort', () => clearTimeout(typing));
  const kindList = h('datalist', { id: 'kinds' });
  // Suggestions only: the filter works without them, so a failed read is not worth an error box.
  loadKinds(signal).then((kinds) => replace(kindList, kinds.map((k) => h('option', { value: k.kind }))), () => undefined);
  const live = h('span.live', { title: 'Live updates from the event stream' }, 'connecting');

  const tbody = h('tbody');
  const table = h(
    'table.list.tasks',
    null,
    h('thead', null, h('tr', null, h('th', null, 'Task'), h('th', null, 'Kind'), h('th', null, 'Status'), h('th.wide', null, 'Progress'), h('th.num', null, 'Targets'), h('th.num', null, 'Cost'), h('th', null, 'Created'))),
    tbody,
  );
  const empty = h('p.empty', { hidden: true });
  const sayEmpty = () => replace(empty, status || kind ? 'No tasks match these filters.' : ['No tasks yet. ', h('a', { href: '#/new' }, 'Submit one.')]);
  const more = h('button', { type: 'button', hidden: true }, 'Load more');

  replace(
    main,
    pageHeader('Tasks', live, h('a.button.primary', { href: '#/new' }, 'New task')),
    h('div.filters', null, h('label', null, 'Status', statusSelect), h('label', null, 'Kind', kindInput), kindList),
    h('div.card.flush', null, table, empty),
    more,
  );

  /** @type {Map<string, { task: any, row: HTMLElement, abort?: AbortController }>} */
  const rows = new Map();
  /** @type {string | null} */
  let cursor = null;

  /** @param {any} task */
  function renderRow(task) {
    const bar = progressBar(taskProgress(task), task.status);
    return h(
      'tr',
      { dataset: { taskId: task.id, status: task.status } },
      h('td', null, h('a.mono', { href: `#/tasks/${task.id}`, title: task.id }, shortId(task.id)), task.title ? h('div.muted.small', null, task.title) : null),
      h('td', null, task.kind),
      h('td', null, badge(task.status)),
      h('td.wide', null, bar),
      h('td.num', null, String(task.targets.length)),
      h('td.num', null, cost(task.cost)),
      h('td', null, time(task.created_at)),
    );
  }

  /** @param {any} task */
  function upsert(task, atTop = false) {
    const existing = rows.get(task.id);
    const row = renderRow(task);
    if (existing) {
      existing.row.replaceWith(row);
      existing.task = task;
      existing.row = row;
    } else {
      rows.set(task.id, { task, row });
      if (atTop) tbody.prepend(row);
      else tbody.append(row);
    }
    empty.hidden = rows.size > 0;
    followProgress();
  }

  function matches(/** @type {any} */ task) {
    return (!status || task.status === status) && (!kind || task.kind === kind);
  }

  /** @type {AbortController} */
  let listing = new AbortController();
  signal.addEventListener('abort', () => listing.abort());

  async function load(/** @type {string | null} */ after) {
    const q = new URLSearchParams({ limit: '25' });
    if (status) q.set('status', status);
    if (kind) q.set('kind', kind);
    if (after) q.set('cursor', after);
    const mine = listing;
    const page = await api('GET', `/v1/tasks?${q}`, { signal: mine.signal });
    // An answer for filters since changed is dropped: the newer request fills the list.
    if (mine.signal.aborted) return;
    sayEmpty();
    for (const t of page.data) upsert(t);
    cursor = page.next_cursor;
    more.hidden = !cursor;
    empty.hidden = rows.size > 0;
  }
  more.addEventListener('click', () => void load(cursor));

  /** After a filter changed: the rows and their progress streams go, the first page of the new filter comes. */
  async function reload() {
    listing.abort();
    listing = new AbortController();
    for (const r of rows.values()) r.abort?.abort();
    rows.clear();
    tbody.replaceChildren();
    empty.hidden = true;
    more.hidden = true;
    cursor = null;
    try {
      await load(null);
    } catch (err) {
      if (listing.signal.aborted || signal.aborted) return;
      replace(empty, errorBox(err));
      empty.hidden = false;
    }
  }

  async function refresh(/** @type {string} */ id) {
    try {
      const task = await api('GET', `/v1/tasks/${id}`, { signal });
      if (matches(task)) upsert(task, !rows.has(task.id));
      else if (rows.has(id)) {
        rows.get(id)?.row.remove();
        rows.delete(id);
        empty.hidden = rows.size > 0;
      }
    } catch {
      /* the next event or poll tries again */
    }
  }

  // A per-task stream for the first few running tasks: progress events as the worker writes them.
  function followProgress() {
    let streams = [...rows.values()].filter((r) => r.abort && !r.abort.signal.aborted).length;
    for (const r of rows.values()) {
      if (streams >= MAX_PROGRESS_STREAMS) break;
      if (r.abort || !ACTIVE.includes(r.task.status)) continue;
      const abort = new AbortController();
      signal.addEventListener('abort', () => abort.abort());
      r.abort = abort;
      streams++;
      const id = r.task.id;
      void stream(`/v1/tasks/${id}/events`, {
        signal: abort.signal,
        isFinal: (e) => /^task\.(completed|failed|canceled)$/.test(e.event),
        onEvent: (e) => {
          const entry = rows.get(id);
          if (!entry) return;
          if (e.event === 'progress') {
            const p = JSON.parse(e.data);
            const target = entry.task.targets.find((/** @type {any} */ t) => t.id === p.target_id);
            if (target) {
              target.progress = p.progress;
              target.status = 'processing';
            }
            if (entry.task.status === 'queued') {
              entry.task.status = 'processing';
              upsert(entry.task);
            } else setProgress(/** @type {HTMLElement} */ (entry.row.querySelector('.progress')), taskProgress(entry.task), entry.task.status);
          } else void refresh(id);
        },
      }).finally(() => {
        abort.abort();
        followProgress();
      });
    }
  }

  await load(null);

  // Terminal events of every task, including ones submitted elsewhere while this page is open.
  void stream('/v1/events', {
    signal,
    onState: (state) => {
      live.textContent = state;
      live.classList.toggle('on', state === 'live');
    },
    onEvent: (e) => {
      const id = JSON.parse(e.data)?.data?.id;
      if (typeof id === 'string' && id.startsWith('task_')) void refresh(id);
    },
  });

  // Tasks are created and start without an event; a slow poll picks that up while anything is pending.
  const poll = setInterval(() => {
    if (document.hidden) return;
    const pending = [...rows.values()].filter((r) => ACTIVE.includes(r.task.status) && !r.abort);
    for (const r of pending) void refresh(r.task.id);
    void loadNewest();
  }, 5000);
  signal.addEventListener('abort', () => clearInterval(poll));

  async function loadNewest() {
    const q = new URLSearchParams({ limit: '10' });
    if (status) q.set('status', status);
    if (kind) q.set('kind', kind);
    try {
      const page = await api('GET', `/v1/tasks?${q}`, { signal });
      for (const t of [...page.data].reverse()) if (!rows.has(t.id)) upsert(t, true);
    } catch {
      /* next tick */
    }
  }
}
