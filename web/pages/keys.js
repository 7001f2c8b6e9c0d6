// The tenant's keys, read from GET /v1/keys. Creating and revoking stay in the CLI on the server:
// keys are minted offline, so a leaked key cannot be used to mint more (or to revoke the others).
import { api, session } from '../api.js';
import { copyButton, errorBox, h, pageHeader, replace, shortId, time } from '../ui.js';

/**
 * @param {string} command
 * @param {string} what
 */
function commandRow(command, what) {
  return h('div.command', null, h('p', null, what), h('div.secret-row', null, h('code', null, command), copyButton(command)));
}

/** @param {{ id: string, prefix: string, created_at: string, revoked_at: string | null, current: boolean }} k */
function keyRow(k) {
  const state = k.revoked_at ? 'revoked' : 'active';
  return h(
    'tr',
    { dataset: { keyId: k.id, current: String(k.current), state } },
    h('td', null, h('code.key-prefix', null, `${k.prefix}…`), k.current ? h('span.badge.this-session', { title: 'The key this tab is signed in with' }, 'this session') : null),
    h('td.mono', { title: k.id }, shortId(k.id)),
    h('td', null, time(k.created_at)),
    h('td', null, h('span.badge', { dataset: { status: state } }, state), k.revoked_at ? h('span.muted.small', null, ' ', time(k.revoked_at)) : null),
  );
}

/** @param {import('../app.js').PageContext} ctx */
export async function keysPage({ main, signal }) {
  const tenant = h('span');
  const listEl = h('div.card.flush', null, h('p.empty', null, 'Loading keys…'));
  // The tenant's name, where the server has GET /v1/account; without it the page says the same minus the name.
  api('GET', '/v1/account', { signal })
    .then((a) => a && a.name && replace(tenant, ' for tenant ', h('strong.tenant-name', null, a.name)))
    .catch(() => undefined);
  replace(
    main,
    pageHeader('API keys'),
    h(
      'div.card',
      null,
      h('h2', null, 'This session'),
      h('p', null, 'Signed in with the key ', h('code.current-prefix', null, `${session.prefix}…`), ' (its prefix, as ', h('code', null, 'hookwave keys list'), ' shows it)', tenant, '.'),
      h('p.muted', null, 'The key is kept in this tab’s sessionStorage only and is forgotten when the tab closes or you sign out.'),
    ),
    h('h2', null, 'Keys of this tenant'),
    listEl,
    h(
      'div.card.why-cli',
      null,
      h('h2', null, 'Creating and revoking keys'),
      h(
        'p',
        null,
        'Keys are minted offline, with the CLI on the server, and never through the API or this dashboard: a leaked key can read and submit work, but it cannot mint more keys to keep a foothold, nor revoke yours to lock you out. ',
        'Keys are stored hashed (SHA-256), so nobody — this dashboard included — can show a key again after it was created; the list above shows prefixes only.',
      ),
      commandRow('hookwave keys create --tenant <name>', 'Create a key (and the tenant on first use). Prints the key once, and the tenant’s webhook signing secret.'),
      commandRow('hookwave keys list', 'List keys by id and prefix, with their tenant, creation and revocation times (--tenant <name> narrows it).'),
      commandRow('hookwave keys revoke <id-or-prefix>', 'Revoke a key. Servers stop accepting it within a few seconds (they cache keys for 5 s).'),
      h('p.muted.small', null, 'Add --data-dir <dir> (or set the same database settings as the server) when the CLI runs outside the server’s directory.'),
    ),
  );

  try {
    const res = await api('GET', '/v1/keys', { signal });
    /** @type {Array<{ id: string, prefix: string, created_at: string, revoked_at: string | null, current: boolean }>} */
    const keys = res.data;
    replace(
      listEl,
      h(
        'table.list.keys',
        null,
        h('thead', null, h('tr', null, h('th', null, 'Prefix'), h('th', null, 'Id'), h('th', null, 'Created'), h('th', null, 'State'))),
        h('tbody', null, keys.map(keyRow)),
      ),
    );
  } catch (err) {
    if (!signal.aborted) replace(listEl, errorBox(err));
  }
}
