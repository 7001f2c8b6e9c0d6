// One task: summary, targets with their outputs (player + waveform), the events timeline and the
// deliveries. The task's event stream drives it: progress events move the bars, stored events join
// the timeline and trigger a fresh GET (which also brings fresh signed URLs).
import { api, sameOrigin, stream } from '../api.js';
import { drawWaveform, MAX_WAVEFORM_BYTES } from '../waveform.js';
import { badge, bytes, cost, errorBox, h, pageHeader, progressBar, replace, seconds, setProgress, shortId, time, valueList } from '../ui.js';
import { attemptsView, redeliverButton } from './deliveries.js';
import { taskProgress } from './tasks.js';

const ENDED = ['completed', 'failed', 'canceled'];
/** What a task can still send, in the order they happen; its webhook_url gets the last three unless it chose others. */
const TASK_EVENTS = ['task.target.completed', 'task.target.failed', 'task.completed', 'task.failed', 'task.canceled'];
const DEFAULT_WEBHOOK_EVENTS = ['task.completed', 'task.failed', 'task.canceled'];

/**
 * Who will get this task's events: its own webhook_url (with its filter) and every enabled endpoint
 * whose filter matches, as the server's outbox decides when each event happens.
 * @param {any} task
 * @param {any[]} endpoints
 * @returns {Array<{ url: string, endpointId: string | null, events: string[] }>}
 */
export function receiversOf(task, endpoints) {
  const out = [];
  if (task.webhook_url) {
    const wanted = task.webhook_events ?? DEFAULT_WEBHOOK_EVENTS;
    out.push({ url: task.webhook_url, endpointId: null, events: TASK_EVENTS.filter((t) => wanted.includes(t)) });
  }
  for (const ep of endpoints) {
    if (!ep.enabled) continue;
    const events = TASK_EVENTS.filter((t) => ep.events === null || ep.events.includes(t));
    if (events.length) out.push({ url: ep.url, endpointId: ep.id, events });
  }
  return out.filter((r) => r.events.length);
}

/** @param {import('../app.js').PageContext} ctx */
export async function taskPage({ main, signal, params }) {
  const id = params[0] ?? '';
  let task = await api('GET', `/v1/tasks/${id}`, { signal });

  const statusBadge = h('span.badge.task-status');
  const overall = progressBar(0, task.status);
  const cancel = h('button.danger', { type: 'button', onclick: () => void doCancel() }, 'Cancel task');
  const summary = h('div.card.summary');
  const targetsEl = h('div.targets');
  const timeline = h('ol.timeline');
  const timelineEmpty = h('p.muted', null, 'No events yet.');
  const deliveriesEl = h('div.card.flush');
  const live = h('span.live', null, 'connecting');

  replace(
    main,
    h('p.crumbs', null, h('a', { href: '#/tasks' }, 'Tasks'), ' / ', h('span.mono', null, task.id)),
    pageHeader(task.title || `Task ${shortId(task.id)}`, live, statusBadge, cancel),
    h('div.overall', null, overall),
    summary,
    h('h2', null, 'Targets'),
    targetsEl,
    h('div.two-col', null, h('section', null, h('h2', null, 'Events'), h('div.card', null, timeline, timelineEmpty)), h('section', null, h('h2', null, 'Deliveries'), deliveriesEl)),
  );

  /** @type {Map<string, { card: HTMLElement, badge: HTMLElement, bar: HTMLElement, meta: HTMLElement, outputs: HTMLElement, shown: boolean }>} */
  const cards = new Map();

  function renderSummary() {
    statusBadge.dataset.status = task.status;
    statusBadge.textContent = task.status;
    cancel.hidden = ENDED.includes(task.status);
    setProgress(overall, taskProgress(task), task.status);
    replace(
      summary,
      h(
        'dl.grid',
        null,
        h('dt', null, 'ID'),
        h('dd', null, h('code', null, task.id)),
        h('dt', null, 'Kind'),
        h('dd', null, task.kind),
        h('dt', null, 'Input'),
        h('dd.url', null, task.input?.url ?? '—'),
        h('dt', null, 'Webhook URL'),
        h('dd.url', null, task.webhook_url ?? h('span.muted', null, 'none (endpoints only)')),
        h('dt', null, 'Created'),
        h('dd', null, time(task.created_at)),
        h('dt', null, 'Completed'),
        h('dd', null, time(task.completed_at)),
        h('dt', null, 'Cost'),
        h('dd.cost', null, cost(task.cost), task.targets.length > 1 && task.cost !== null ? h('span.muted', null, ` (sum of ${task.targets.length} targets)`) : null),
        task.batch_id ? [h('dt', null, 'Batch'), h('dd', null, h('code', null, task.batch_id))] : null,
        task.metadata ? [h('dt', null, 'Metadata'), h('dd.metadata', null, valueList(task.metadata))] : null,
      ),
      task.error ? errorBox(task.error) : null,
    );
  }

  /** @param {any} t */
  function targetMeta(t) {
    return [
      // Each name stays on the line of its value when the line wraps.
      h(
        'dl.inline',
        null,
        h('div', null, h('dt', null, 'Duration'), h('dd', null, seconds(t.duration))),
        h('div', null, h('dt', null, 'Cost'), h('dd', null, cost(t.cost))),
        h('div', null, h('dt', null, 'Started'), h('dd', null, time(t.started_at))),
        h('div', null, h('dt', null, 'Finished'), h('dd', null, time(t.finished_at))),
      ),
      h(
        'div.details',
        null,
        h('section.params', null, h('h4', null, 'Params'), valueList(t.params)),
        t.info && Object.keys(t.info).length ? h('section.info', null, h('h4', null, 'Info'), valueList(t.info)) : null,
      ),
      t.error ? errorBox(t.error) : null,
    ];
  }

  /**
   * @param {any} t target
   * @param {any} o output
   */
  function outputView(t, o) {
    const src = sameOrigin(o.url);
    const audio = /** @type {HTMLAudioElement} */ (h('audio', { controls: true, preload: 'metadata', src }));
    const fileName = o.file_name ?? `${o.name}.${o.format}`;
    const canvas = /** @type {HTMLCanvasElement} */ (h('canvas.waveform', { 'aria-label': `Waveform of ${fileName}`, role: 'img' }));
    const note = h('p.muted.small.wave-note');
    // Signed URLs expire (an hour by default): a page left open gets fresh ones instead of a broken player.
    let renewed = false;
    audio.addEventListener('error', async () => {
      if (renewed) return;
      renewed = true;
      try {
        const fresh = await api('GET', `/v1/tasks/${task.id}`, { signal });
        const same = fresh.targets.find((/** @type {any} */ x) => x.id === t.id)?.outputs.find((/** @type {any} */ x) => x.name === o.name && x.format === o.format);
        if (same) audio.src = sameOrigin(same.url);
      } catch {
        /* the player shows its own error */
      }
    });
    const box = h(
      'div.output',
      { dataset: { output: `${o.name}.${o.format}` } },
      h(
        'div.output-head',
        null,
        h('strong', null, fileName),
        h('span.muted', null, [bytes(o.size), seconds(o.duration), o.sample_rate ? `${o.sample_rate} Hz` : null, o.channels ? `${o.channels} ch` : null, o.bitrate ? `${Math.round(o.bitrate / 1000)} kbit/s` : null].filter(Boolean).join(' · ')),
        h('a.button.small', { href: src, download: fileName }, 'Download'),
      ),
      canvas,
      note,
      audio,
    );
    queueMicrotask(() => {
      if (!o.peaks && o.size > MAX_WAVEFORM_BYTES) {
        note.textContent = `No waveform preview for files over ${bytes(MAX_WAVEFORM_BYTES)}.`;
        canvas.hidden = true;
        return;
      }
      drawWaveform(canvas, { url: src, peaks: o.peaks ?? null, duration: o.duration }, audio, signal).catch((err) => {
        if (signal.aborted) return;
        canvas.hidden = true;
        note.textContent = `No waveform preview: this browser could not decode ${o.format} (${err.message ?? err}).`;
      });
    });
    return box;
  }

  /** @param {any} t */
  function renderTarget(t) {
    let c = cards.get(t.id);
    if (!c) {
      const b = badge(t.status);
      const bar = progressBar(0);
      const meta = h('div.meta');
      const outputs = h('div.outputs');
      const card = h('article.card.target', { dataset: { targetId: t.id } }, h('header', null, h('h3', null, t.name), b, bar), meta, outputs);
      c = { card, badge: b, bar, meta, outputs, shown: false };
      cards.set(t.id, c);
      targetsEl.append(card);
    }
    c.card.dataset.status = t.status;
    c.badge.dataset.status = t.status;
    c.badge.textContent = t.status;
    setProgress(c.bar, t.status === 'completed' ? 1 : t.progress, t.status);
    // A finished target's badge says it all; a failed or canceled one also shows how far it got.
    c.bar.hidden = t.status === 'completed';
    replace(c.meta, targetMeta(t));
    // Outputs are final once written; rendering them once keeps a playing player playing.
    if (!c.shown && t.outputs.length) {
      c.shown = true;
      replace(c.outputs, t.outputs.map((/** @type {any} */ o) => outputView(t, o)));
    }
  }

  function render() {
    renderSummary();
    for (const t of task.targets) renderTarget(t);
  }
  render();

  // ---- deliveries ----------------------------------------------------------------------------
  /** @type {Set<string>} */
  const openDeliveries = new Set();
  let lastDeliveries = '';
  async function loadDeliveries() {
    const res = await api('GET', `/v1/tasks/${task.id}/deliveries`, { signal });
    /** @type {any[]} */
    const list = res.data;
    // The status too: with nothing sent, what the panel says depends on whether the task has ended.
    const snapshot = JSON.stringify([task.status, list]);
    if (snapshot === lastDeliveries) return list;
    lastDeliveries = snapshot;
    if (!list.length) {
      replace(deliveriesEl, await nothingSentYet());
      return list;
    }
    replace(
      deliveriesEl,
      h(
        'ul.delivery-list',
        null,
        list.map((d) => {
          const details = h(
            'details',
            {
              open: openDeliveries.has(d.id),
              ontoggle: () => (details.open ? openDeliveries.add(d.id) : openDeliveries.delete(d.id)),
            },
            h('summary', null, h('code', null, d.event_type ?? 'event'), badge(d.status), h('span.muted.url', { title: d.url }, d.url), h('span.muted', null, `${d.attempt_count} attempt${d.attempt_count === 1 ? '' : 's'}`)),
            h('div.delivery-body', null, h('p', null, h('a', { href: `#/deliveries/${d.id}` }, 'Open delivery'), ' ', redeliverButton(d, signal, () => void loadDeliveries())), attemptsView(d)),
          );
          return h('li', { dataset: { deliveryId: d.id, status: d.status } }, details);
        }),
      ),
    );
    return list;
  }

  /** @type {any[] | null} */
  let endpoints = null;
  /** Before anything was sent: who will get what once the task moves on, or why nobody will. */
  async function nothingSentYet() {
    endpoints ??= (await api('GET', '/v1/endpoints', { signal })).data;
    const receivers = receiversOf(task, /** @type {any[]} */ (endpoints));
    if (ENDED.includes(task.status) || !receivers.length) {
      const why = task.webhook_url ? 'Its webhook_url and the endpoints did not ask for the events it sent.' : 'This task has no webhook_url, and no enabled endpoint subscribes to its events.';
      return h('p.empty', null, ENDED.includes(task.status) && receivers.length ? 'No events were sent.' : why);
    }
    return h(
      'div.upcoming',
      null,
      h('p.muted', null, 'Nothing sent yet. As the task moves on:'),
      h(
        'ul',
        null,
        receivers.map((r) =>
          h(
            'li',
            { dataset: { endpointId: r.endpointId ?? '' } },
            h('span.url', { title: r.url }, r.url),
            h('span.muted.small', null, r.endpointId ? ` endpoint ${shortId(r.endpointId)}` : " task's webhook_url"),
            h('div', null, h('span.muted', null, 'will get '), r.events.map((e) => h('code.tag', null, e))),
          ),
        ),
      ),
    );
  }

  let deliveryTimer = 0;
  async function followDeliveries() {
    clearTimeout(deliveryTimer);
    try {
      const list = await loadDeliveries();
      // Retries and outcomes come without an event: poll while something can still change.
      if (!ENDED.includes(task.status) || list.some((d) => d.status === 'pending')) deliveryTimer = window.setTimeout(followDeliveries, 1500);
    } catch (err) {
      if (!signal.aborted) replace(deliveriesEl, errorBox(err));
    }
  }
  signal.addEventListener('abort', () => clearTimeout(deliveryTimer));
  void followDeliveries();

  // ---- live updates --------------------------------------------------------------------------
  let refreshing = false;
  let again = false;
  async function refresh() {
    if (refreshing) {
      again = true;
      return;
    }
    refreshing = true;
    try {
      task = await api('GET', `/v1/tasks/${task.id}`, { signal });
      render();
      void followDeliveries();
    } catch {
      /* the next event tries again */
    } finally {
      refreshing = false;
      if (again) {
        again = false;
        void refresh();
      }
    }
  }

  /**
   * Target events carry the whole task; the target they announce is the one that ended at the event's time.
   * @param {any} body
   * @param {string} status
   */
  function targetOf(body, status) {
    const at = Date.parse(body?.timestamp ?? '');
    const candidates = (body?.data?.targets ?? []).filter((/** @type {any} */ t) => t.status === status && t.finished_at);
    candidates.sort((/** @type {any} */ a, /** @type {any} */ b) => Math.abs(Date.parse(a.finished_at) - at) - Math.abs(Date.parse(b.finished_at) - at));
    return candidates[0];
  }

  /** @type {Set<string>} */
  const seen = new Set();
  /** @param {import('../api.js').StreamEvent} e */
  function addToTimeline(e) {
    if (!e.id || seen.has(e.id)) return;
    seen.add(e.id);
    let body = null;
    try {
      body = JSON.parse(e.data);
    } catch {
      /* shown without details */
    }
    const targetName = e.event.startsWith('task.target.') ? targetOf(body, e.event.slice(12))?.name : null;
    timelineEmpty.hidden = true;
    timeline.append(
      h(
        'li',
        { dataset: { event: e.event } },
        h('span.dot', { dataset: { kind: e.event.split('.').pop() } }),
        h('div', null, h('code', null, e.event), targetName ? h('span.muted', null, ` ${targetName}`) : null, h('div.muted.small', null, time(body?.timestamp), ' · ', h('span.mono', { title: 'webhook-id' }, e.id))),
      ),
    );
  }

  void stream(`/v1/tasks/${task.id}/events`, {
    signal,
    isFinal: (e) => /^task\.(completed|failed|canceled)$/.test(e.event),
    onState: (state) => {
      live.textContent = state;
      live.classList.toggle('on', state === 'live');
    },
    onEvent: (e) => {
      if (e.event === 'progress') {
        const p = JSON.parse(e.data);
        const t = task.targets.find((/** @type {any} */ x) => x.id === p.target_id);
        if (!t) return;
        t.progress = p.progress;
        t.status = 'processing';
        if (task.status === 'queued') task.status = 'processing';
        render();
        return;
      }
      addToTimeline(e);
      // Replayed events of a finished task need no fresh GET; live ones change its state.
      const known = ENDED.includes(task.status) && task.targets.every((/** @type {any} */ t) => ENDED.includes(t.status));
      if (!known) void refresh();
    },
  });

  async function doCancel() {
    cancel.disabled = true;
    try {
      await api('POST', `/v1/tasks/${task.id}/cancel`, { signal });
      await refresh();
    } catch (err) {
      if (!signal.aborted) summary.append(errorBox(err));
    } finally {
      cancel.disabled = false;
    }
  }
}
