// Submit a task. The kinds, and the choices each offers, come from the server (GET /v1/kinds):
// quick pickers write the targets JSON, which stays editable for every option an engine takes;
// the server's validation messages are shown as they come.
import { api } from '../api.js';
import { loadKinds, targetChoices } from '../kinds.js';
import { errorBox, h, pageHeader, replace } from '../ui.js';

/** @param {import('../app.js').PageContext} ctx */
export async function newTaskPage({ main, signal, go }) {
  const kinds = await loadKinds(signal);
  // One key per form: a double submit or a retry after a network error cannot create the task twice.
  let idempotencyKey = crypto.randomUUID();

  const kind = h('select', { name: 'kind', required: true }, kinds.map((k) => h('option', { value: k.kind }, k.kind)));
  const kindHint = h('span.hint');
  const inputUrl = h('input', { name: 'input_url', type: 'url', placeholder: 'https://example.com/audio.wav' });
  const inputHint = h('span.hint');
  const title = h('input', { name: 'title', maxlength: 256, placeholder: 'optional' });
  const webhook = h('input', { name: 'webhook_url', type: 'url', placeholder: 'optional: https://your.app/hooks/hookwave' });
  const targets = h('textarea.mono', { name: 'targets', rows: 5, spellcheck: 'false', required: true });
  const params = h('textarea.mono', { name: 'params', rows: 3, spellcheck: 'false', placeholder: 'optional, e.g. {"prompt": "lofi, piano"}' });
  const pickers = h('div.pickers');
  const status = h('div.form-status');
  const submit = h('button.primary', { type: 'submit' }, 'Submit task');

  /** @type {Set<string>} */
  const chosen = new Set(['mp3']);
  let pickedFormat = 'mp3';
  /** The params template last written, cleared again when the user moves to another kind without editing it. */
  let template = '';

  const current = () => kinds.find((k) => k.kind === kind.value) ?? kinds[0];

  function writeTargets() {
    const k = current();
    const choices = k ? targetChoices(k) : null;
    if (!choices) return;
    const picked = [...chosen].filter((c) => choices.options.includes(c));
    const list = picked.map((v) => (choices.field === 'format' ? { format: v } : { [choices.field]: v, ...(choices.formats ? { format: pickedFormat } : {}) }));
    targets.value = list.length ? JSON.stringify(list, null, 2) : targets.value;
  }

  function renderKind() {
    const k = current();
    if (!k) return;
    replace(kindHint, k.description);
    inputUrl.disabled = !k.needs_input;
    replace(inputHint, k.needs_input ? 'An audio or video file the server can download.' : `${k.kind} takes no input.`);
    // A kind whose params have an example (generate's prompt) starts from it.
    const example = Array.isArray(k.params_schema.examples) && k.params_schema.examples.length ? JSON.stringify(k.params_schema.examples[0], null, 2) : '';
    if (params.value === template || !params.value.trim()) params.value = example;
    template = example;
    const choices = targetChoices(k);
    if (!choices) {
      replace(pickers, h('p.muted.small', null, `Write the targets of kind "${k.kind}" as JSON below.`));
      return;
    }
    const { field, options, formats } = choices;
    for (const c of [...chosen]) if (!options.includes(c)) chosen.delete(c);
    if (!chosen.size) chosen.add(options[0] ?? '');
    if (formats && !formats.includes(pickedFormat)) pickedFormat = formats[0] ?? '';
    const legend = field === 'format' ? 'Formats (one target each)' : `${field[0]?.toUpperCase()}${field.slice(1)}s (one target each)`;
    replace(
      pickers,
      h(
        'fieldset.chips',
        null,
        h('legend', null, legend),
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
      formats
        ? h(
            'label.inline',
            null,
            'Format ',
            h(
              'select',
              {
                name: 'target-format',
                onchange: (/** @type {Event} */ ev) => {
                  pickedFormat = /** @type {HTMLSelectElement} */ (ev.target).value;
                  writeTargets();
                },
              },
              formats.map((f) => h('option', { value: f, selected: f === pickedFormat }, f)),
            ),
          )
        : null,
    );
    writeTargets();
  }
  kind.addEventListener('change', renderKind);

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
        if (!inputUrl.disabled && inputUrl.value.trim()) body.input = { url: inputUrl.value.trim() };
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
    h('label', null, 'Kind', kind, kindHint),
    h('label', null, 'Input URL', inputUrl, inputHint),
    pickers,
    h('label', null, 'Targets (JSON)', targets, h('span.hint', null, 'Each target is one output; add bitrate, sample_rate, channels or name as the kind allows.')),
    h('label', null, 'Params (JSON)', params, h('span.hint', null, 'Task-level options of the kind.')),
    h('label', null, 'Title', title),
    h('label', null, 'Webhook URL', webhook, h('span.hint', null, 'Receives signed task.completed / task.failed / task.canceled events, besides your endpoints.')),
    status,
    h('div.actions', null, submit, h('a.button', { href: '#/tasks' }, 'Cancel')),
  );
  replace(main, pageHeader('New task'), form);
  renderKind();
  inputUrl.focus();
}
