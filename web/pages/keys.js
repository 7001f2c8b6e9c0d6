// Keys are managed on the server with the CLI: they are stored only as hashes, and an API that could
// mint keys would let one leaked key make more. This page says how, and which key this tab uses.
import { api, session } from '../api.js';
import { copyButton, h, pageHeader, replace } from '../ui.js';

/**
 * @param {string} command
 * @param {string} what
 */
function commandRow(command, what) {
  return h('div.command', null, h('p', null, what), h('div.secret-row', null, h('code', null, command), copyButton(command)));
}

/** @param {import('../app.js').PageContext} ctx */
export function keysPage({ main, signal }) {
  const tenant = h('span');
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
    h(
      'div.card',
      null,
      h('h2', null, 'Managing keys'),
      h('p', null, 'Keys are stored hashed (SHA-256), so nobody — this dashboard included — can show a key again after it was created. They are managed with the CLI on the server:'),
      commandRow('hookwave keys create --tenant <name>', 'Create a key (and the tenant on first use). Prints the key once, and the tenant’s webhook signing secret.'),
      commandRow('hookwave keys list', 'List keys by id and prefix, with their tenant, creation and revocation times (--tenant <name> narrows it).'),
      commandRow('hookwave keys revoke <id-or-prefix>', 'Revoke a key. Servers stop accepting it within a few seconds (they cache keys for 5 s).'),
      h('p.muted.small', null, 'Add --data-dir <dir> (or set the same database settings as the server) when the CLI runs outside the server’s directory.'),
    ),
  );
}
