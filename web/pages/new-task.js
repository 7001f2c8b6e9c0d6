// Submit a task. Quick pickers write the targets JSON, which stays editable for every option an
// engine takes; the server's validation messages are shown as they come.
import { api } from '../api.js';
import { errorBox, h, pageHeader, replace } from '../ui.js';

// There is no kinds API; these are the built-in engines. Other kinds can be typed in.
export const KINDS = ['extract', 'stems', 'generate'];
const FORMATS = ['mp3', 'wav', 'flac', 'ogg', 'opus', 'm4a'];
const STEMS = ['vocals', 'instrumental', 'drums', 'bass', 'other'];
const GENERATE_PARAMS = { prompt: 'lofi, electric piano, vinyl crackle, chill', duration: 30 };

/** @param {import('../app.js').PageContext} ctx */
export function newTaskPage({ main, signal, go }) {
  // One key per form: a double submit or a retry after a network error cannot create the task twice.
  let idempotencyKey = crypto.randomUUID();

  const kind = h('input', { name: 'kind', list: 'new-kinds', value: 'extract', required: true, autocomplete: 'off' });
  const inputUrl = h('input', { name: 'input_url', type: 'url', placeholder: 'https://example.com/audio.wav' });
  const title = h('input', { name: 'title', maxlength: 256, placeholder: 'optional' });
  const webhook = h('input', { name: 'webhook_url', type: 'url', placeholder: 'optional: https://your.app/hooks/hookwave' });
  const targets = h('textarea.mono', { name: 'targets', rows: 5, spellcheck: 'false', required: true });
  const params = h('textarea.mono', { name: 'params', rows: 3, spellcheck: 'false', placeholder: 'optional, e.g. {"prompt": "lofi, piano"}' });
  const pickers = h('div.pickers');
  const status = h('div.form-status');
  const submit = h('button.primary', { type: 'submit' }, 'Submit task');

  /** @type {Set<string>} */
  const chosen = new Set(['mp3']);
  let stemFormat = 'mp3';

  function writeTargets() {
    const k = kind.value.trim();
    /** @type {object[]} */
    let list = [];
    if (k === 'extract' || k === 'generate') list = [...chosen].filter((f) => FORMATS.includes(f)).map((format) => ({ format }));
    else if (k === 'stems') list = [...chosen].filter((s) => STEMS.includes(s)).map((stem) => ({ stem, format: stemFormat }));
    targets.value = list.length ? JSON.stringify(list, null, 2) : targets.value;
  }

  function renderPickers() {
    const k = kind.value.trim();
    const options = k === 'extract' || k === 'generate' ? FORMATS : k === 'stems' ? STEMS : [];
    // generate composes from params and takes no input; a template shows what it wants.
    if (k === 'generate' && !params.value.trim()) params.value = JSON.stringify(GENERATE_PARAMS, null, 2);
    else if (k !== 'generate' && params.value === JSON.stringify(GENERATE_PARAMS, null, 2)) params.value = '';
    if (!options.length) {
      replace(pickers, h('p.muted.small', null, `Write the targets of kind "${k}" as JSON below.`));
      return;
    }
    for (const c of [...chosen]) if (!options.includes(c)) chosen.delete(c);
    if (!chosen.size) chosen.add(options[0] ?? '');
    replace(
      pickers,
      h(
        'fieldset.chips',
        null,
        h('legend', null, k === 'stems' ? 'Stems (one target each)' : 'Formats (one target each)'),
        options.map((o) =>
          h(
            'label.chip',
            null,
            h('input', {
              type: 'checkbox',
              name: `target-${o}`,
              value: o,
              checked: chosen.has(o),
              onchange: (/** @type {Event} */ ev) => {
                if (/** @type {HTMLInputElement} */ (ev.target).checked) chosen.add(o);
                else chosen.delete(o);
                writeTargets();
              },
            }),
            o,
          ),
        ),
      ),
      k === 'stems'
        ? h(
            'label.inline',
            null,
            'Format ',
            h(
              'select',
              {
                name: 'stem-format',
                onchange: (/** @type {Event} */ ev) => {
                  stemFormat = /** @type {HTMLSelectElement} */ (ev.target).value;
                  writeTargets();
                },
              },
              FORMATS.map((f) => h('option', { value: f, selected: f === stemFormat }, f)),
            ),
          )
        : null,
    );
    writeTargets();
  }
  kind.addEventListener('change', renderPickers);

  const form = h(
    'form.card.form',
    {
      onsubmit: async (/** @type {SubmitEvent} */ ev) => {
        ev.preventDefault();
        replace(status);
        /** @type {unknown} */
        let parsedTargets;
        try {
          parsedTargets = JSON.parse(targets.value);
        } catch (err) {
          replace(status, errorBox(new Error(`targets is not valid JSON: ${/** @type {Error} */ (err).message}`)));
          return;
        }
        /** @type {Record<string, unknown>} */
        const body = { kind: kind.value.trim(), targets: parsedTargets };
        if (inputUrl.value.trim()) body.input = { url: inputUrl.value.trim() };
        if (params.value.trim()) {
          try {
            body.params = JSON.parse(params.value);
          } catch (err) {
            replace(status, errorBox(new Error(`params is not valid JSON: ${/** @type {Error} */ (err).message}`)));
            return;
          }
        }
        if (title.value.trim()) body.title = title.value.trim();
        if (webhook.value.trim()) body.webhook_url = webhook.value.trim();
        submit.disabled = true;
        try {
          const res = await api('POST', '/v1/tasks', { body, signal, headers: { 'idempotency-key': idempotencyKey } });
          go(`#/tasks/${res.task_id}`);
        } catch (err) {
          if (signal.aborted) return;
          // A rejected body was not stored: the corrected one is a new request.
          idempotencyKey = crypto.randomUUID();
          replace(status, errorBox(err));
        } finally {
          submit.disabled = false;
        }
      },
    },
    h('label', null, 'Kind', kind, h('datalist', { id: 'new-kinds' }, KINDS.map((k) => h('option', { value: k })))),
    h('label', null, 'Input URL', inputUrl, h('span.hint', null, 'An audio or video file the server can download (generate needs none).')),
    pickers,
    h('label', null, 'Targets (JSON)', targets, h('span.hint', null, 'Each target is one output; add bitrate, sample_rate, channels or name as the kind allows.')),
    h('label', null, 'Params (JSON)', params, h('span.hint', null, 'Task-level options of the kind.')),
    h('label', null, 'Title', title),
    h('label', null, 'Webhook URL', webhook, h('span.hint', null, 'Receives signed task.completed / task.failed / task.canceled events, besides your endpoints.')),
    status,
    h('div.actions', null, submit, h('a.button', { href: '#/tasks' }, 'Cancel')),
  );
  replace(main, pageHeader('New task'), form);
  renderPickers();
  inputUrl.focus();
}
