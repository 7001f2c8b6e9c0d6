// Entry point: sign-in, the top bar, and a hash router (so the server serves one page and never has
// to tell dashboard paths from API paths).
import { api, ApiError, session, whenUnauthorized } from './api.js';
import { deliveriesPage, deliveryPage } from './pages/deliveries.js';
import { endpointsPage } from './pages/endpoints.js';
import { keysPage } from './pages/keys.js';
import { newTaskPage } from './pages/new-task.js';
import { taskPage } from './pages/task.js';
import { tasksPage } from './pages/tasks.js';
import { errorBox, h, replace } from './ui.js';

/**
 * @typedef {{ main: HTMLElement, signal: AbortSignal, params: string[], query: URLSearchParams, go: (hash: string) => void }} PageContext
 * @typedef {(ctx: PageContext) => void | Promise<void>} Page
 */

/** @type {Array<[RegExp, string, Page]>} */
const ROUTES = [
  [/^\/tasks$/, 'tasks', tasksPage],
  [/^\/tasks\/([^/]+)$/, 'tasks', taskPage],
  [/^\/new$/, 'new', newTaskPage],
  [/^\/deliveries$/, 'deliveries', deliveriesPage],
  [/^\/deliveries\/([^/]+)$/, 'deliveries', deliveryPage],
  [/^\/endpoints$/, 'endpoints', endpointsPage],
  [/^\/keys$/, 'keys', keysPage],
];

const main = /** @type {HTMLElement} */ (document.getElementById('main'));
const topbar = /** @type {HTMLElement} */ (document.querySelector('.topbar'));
/** @type {AbortController | null} */
let current = null;

/** @param {string} hash */
function go(hash) {
  if (location.hash === hash) route();
  else location.hash = hash;
}

function route() {
  // Streams and polls of the previous page stop with it.
  current?.abort();
  current = new AbortController();
  const signal = current.signal;
  if (!session.key) return signInPage(signal);

  const raw = location.hash.replace(/^#/, '') || '/tasks';
  const [path = '', qs = ''] = raw.split('?');
  const found = ROUTES.map(([re, nav, page]) => ({ m: re.exec(path), nav, page })).find((r) => r.m);
  if (!found || !found.m) return go('#/tasks');
  topbar.hidden = false;
  /** @type {HTMLElement} */ (topbar.querySelector('.key-prefix')).textContent = `${session.prefix}…`;
  for (const a of topbar.querySelectorAll('[data-nav]')) a.classList.toggle('active', /** @type {HTMLElement} */ (a).dataset.nav === found.nav);
  replace(main);
  main.classList.remove('narrow');
  const params = found.m.slice(1).map(decodeURIComponent);
  Promise.resolve(found.page({ main, signal, params, query: new URLSearchParams(qs), go })).catch((err) => {
    if (signal.aborted || (err instanceof ApiError && err.status === 401)) return;
    main.append(errorBox(err));
  });
}

/** @param {AbortSignal} signal */
function signInPage(signal) {
  topbar.hidden = true;
  main.classList.add('narrow');
  const input = h('input', { type: 'password', name: 'key', autocomplete: 'off', placeholder: 'hw_…', required: true, spellcheck: 'false' });
  const status = h('div.form-status');
  const button = h('button.primary', { type: 'submit' }, 'Sign in');
  const form = h(
    'form.card.signin',
    {
      onsubmit: async (/** @type {SubmitEvent} */ ev) => {
        ev.preventDefault();
        const key = input.value.trim();
        button.disabled = true;
        replace(status);
        try {
          // Any authenticated call tells whether the key is good; this one is cheap.
          await api('GET', '/v1/tasks?limit=1', { key, signal });
          session.signIn(key);
          route();
        } catch (err) {
          if (signal.aborted) return;
          replace(status, errorBox(err instanceof ApiError && err.status === 401 ? new Error('That key was not accepted: it is unknown or revoked.') : err));
        } finally {
          button.disabled = false;
        }
      },
    },
    h('div.signin-brand', null, h('img', { src: document.querySelector('link[rel=icon]')?.getAttribute('href') ?? '', alt: '', width: 36, height: 36 }), h('h1', null, 'hookwave')),
    h('p.muted', null, 'Sign in with an API key. It stays in this browser tab only (sessionStorage) and is sent as X-API-Key.'),
    h('label', null, 'API key', input),
    status,
    button,
    h('p.muted.small', null, 'No key yet? On the server: ', h('code', null, 'hookwave keys create --tenant <name>')),
  );
  replace(main, form);
  input.focus();
}

whenUnauthorized(() => {
  session.signOut();
  route();
});

// The hash stays: signing in again returns to the same page.
/** @type {HTMLElement} */ (topbar.querySelector('.sign-out')).addEventListener('click', () => {
  session.signOut();
  route();
});

window.addEventListener('hashchange', route);
route();
