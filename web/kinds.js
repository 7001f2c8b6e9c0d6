// The kinds the server runs (GET /v1/kinds), read once per page load: they change only when the
// server restarts with another configuration.
import { api } from './api.js';

/**
 * @typedef {{ kind: string, description: string, needs_input: boolean, built_in: boolean,
 *   target_schema: Record<string, any>, params_schema: Record<string, any> }} Kind
 */

/** @type {Promise<Kind[]> | null} */
let loading = null;

/** @param {AbortSignal} [signal] @returns {Promise<Kind[]>} */
export function loadKinds(signal) {
  // Not the page's signal for the shared request: leaving one page must not fail the next one's wait.
  loading ??= api('GET', '/v1/kinds').then(
    (res) => /** @type {Kind[]} */ (res.data),
    (err) => {
      loading = null;
      throw err;
    },
  );
  if (!signal) return loading;
  const s = signal;
  return new Promise((resolve, reject) => {
    s.addEventListener('abort', () => reject(s.reason), { once: true });
    /** @type {Promise<Kind[]>} */ (loading).then(resolve, reject);
  });
}

/**
 * How a form can offer a kind's targets as choices: the first required field with a fixed set of
 * values other than `format` (a stem) is picked one target per value, with the format as a select;
 * otherwise the formats are picked one target each. Null when the schema offers no such choice.
 * @param {Kind} k
 * @returns {{ field: string, options: string[], formats: string[] | null } | null}
 */
export function targetChoices(k) {
  const props = k.target_schema.properties ?? {};
  const required = /** @type {string[]} */ (k.target_schema.required ?? []);
  const enumOf = (/** @type {string} */ f) => (Array.isArray(props[f]?.enum) ? props[f].enum.map(String) : null);
  const formats = enumOf('format');
  const other = required.find((f) => f !== 'format' && enumOf(f));
  if (other) return { field: other, options: /** @type {string[]} */ (enumOf(other)), formats };
  if (formats) return { field: 'format', options: formats, formats: null };
  return null;
}
