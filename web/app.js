// Entry point: sign-in, the top bar, and a hash router (so the server serves one page and never has
// to tell dashboard paths from API paths).
import { api, ApiError, session, whenUnauthorized } from './api.js';
import { deliveriesPage, deliveryPage } from './pages/deliveries.js';
import { endpointsPage } from './pages/endpoints.js';
import { keysPage } from './pages/keys.js';
import { newTaskPage } from './pages/new-task.js';
import { taskPage } from './pages/task.js';
import { tasksPage } from './pages/tasks.js';
import { errorBox, h, notFoundView, replace } from './ui.js';

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
  topbar.hidden = false;
  showAccount();
  for (const a of topbar.querySelectorAll('[data-nav]')) a.classList.toggle('active', /** @type {HTMLElement} */ (a).dataset.nav === found?.nav);
  replace(main);
  main.classList.remove('narrow');
  if (!found || !found.m) return void replace(main, notFoundView(`There is no page at #${path}.`));
  const params = found.m.slice(1).map(decodeURIComponent);
  Promise.resolve(found.page({ main, signal, params, query: new URLSearchParams(qs), go })).catch((err) => {
    if (signal.aborted || (err instanceof ApiError && err.status === 401)) return;
    // A task or delivery id the API does not know (mistyped, another tenant's, or deleted).
    if (err instanceof ApiError && err.status === 404) return void replace(main, notFoundView(err.message));
    main.append(errorBox(err));
  });
}

/** @type {{ key: string, name: Promise<string | null> } | null} */
let account = null;

/** The key's prefix and its tenant's name in the top bar; the name is read once per key. */
function showAccount() {
  const key = session.key ?? '';
  /** @type {HTMLElement} */ (topbar.querySelector('.key-prefix')).textContent = `${session.prefix}…`;
  const tenant = /** @type {HTMLElement} */ (topbar.querySelector('.tenant'));
  if (account?.key === key) return;
  tenant.textContent = '';
  const name = api('GET', '/v1/account').then(
    (a) => (a && typeof a.name === 'string' ? a.name : null),
    () => null,
  );
  account = { key, name };
  void name.then((n) => {
    // Only what the account answered for the key still signed in.
    if (account?.key !== key) return;
    tenant.textContent = n ?? '';
    tenant.title = n ? `Tenant ${n}` : '';
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
  account = null;
  route();
});

// Signing out is leaving: the next sign-in starts at Tasks. (An expired or revoked key keeps the
// page, as does a link opened before signing in: signing in then lands where the user was going.)
/** @type {HTMLElement} */ (topbar.querySelector('.sign-out')).addEventListener('click', () => {
  session.signOut();
  account = null;
  history.replaceState(null, '', '#/tasks');
  route();
});

window.addEventListener('hashchange', route);
route();
