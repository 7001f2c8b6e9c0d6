// The dashboard's only way to the server: JSON calls and event streams, both with the user's key.

const KEY = 'hookwave.apiKey';

export const session = {
  /** @returns {string | null} */
  get key() {
    return sessionStorage.getItem(KEY);
  },
  /** @param {string} key */
  signIn(key) {
    sessionStorage.setItem(KEY, key);
  },
  signOut() {
    sessionStorage.removeItem(KEY);
  },
  /** What `hookwave keys list` shows for this key: "hw_" plus 8 characters (the rest is never stored). */
  get prefix() {
    return this.key ? this.key.slice(0, 11) : '';
  },
};

export class ApiError extends Error {
  /**
   * @param {number} status
   * @param {string} code
   * @param {string} message
   * @param {any} [details]
   */
  constructor(status, code, message, details) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details;
  }
}

/** @type {() => void} */
let onUnauthorized = () => {};
/** @param {() => void} fn called when the server no longer accepts the key */
export function whenUnauthorized(fn) {
  onUnauthorized = fn;
}

/**
 * @param {string} method
 * @param {string} path
 * @param {{ body?: unknown, headers?: Record<string, string>, signal?: AbortSignal, key?: string }} [opts]
 * @returns {Promise<any>}
 */
export async function api(method, path, opts = {}) {
  const key = opts.key ?? session.key;
  /** @type {Record<string, string>} */
  const headers = { accept: 'application/json', ...opts.headers };
  if (key) headers['x-api-key'] = key;
  if (opts.body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(path, {
    method,
    headers,
    body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
    signal: opts.signal,
    cache: 'no-store',
  });
  const text = await res.text();
  let body = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = null;
  }
  if (!res.ok) {
    const err = body && body.error ? body.error : { code: `HTTP_${res.status}`, message: text.slice(0, 200) || res.statusText };
    if (res.status === 401 && !opts.key) onUnauthorized();
    throw new ApiError(res.status, err.code, err.message, err.details);
  }
  return body;
}

/**
 * hookwave's signed URLs name the server's public URL, which behind a proxy may differ from the
 * origin the page was loaded from; the path and query are the same file, and keep the page within
 * its CSP. A URL presigned by a bucket is another server's and stays as it is (the CSP allows it).
 * @param {string} url
 */
export function sameOrigin(url) {
  const u = new URL(url, location.href);
  return u.pathname.startsWith('/v1/files/') ? u.pathname + u.search : u.href;
}

/**
 * @typedef {{ id: string | null, event: string, data: string }} StreamEvent
 */

/**
 * A server-sent event stream over fetch, since EventSource cannot send the API key header. Reconnects
 * with Last-Event-ID after a drop, so no stored event is missed or repeated; stops when `signal` aborts,
 * after an event that `isFinal` (the per-task stream closes after the task's final event), or on a 4xx.
 * @param {string} path
 * @param {{ signal: AbortSignal, onEvent: (e: StreamEvent) => void, onState?: (state: 'live' | 'reconnecting' | 'ended') => void, isFinal?: (e: StreamEvent) => boolean }} opts
 */
export async function stream(path, opts) {
  let lastId = /** @type {string | null} */ (null);
  let retryMs = 2000;
  let finished = false;
  while (!opts.signal.aborted) {
    try {
      /** @type {Record<string, string>} */
      const headers = { accept: 'text/event-stream', 'x-api-key': session.key ?? '' };
      if (lastId) headers['last-event-id'] = lastId;
      const res = await fetch(path, { headers, signal: opts.signal, cache: 'no-store' });
      if (res.status === 401) onUnauthorized();
      if (res.status >= 400 && res.status < 500) return;
      if (!res.ok || !res.body) throw new Error(`stream answered ${res.status}`);
      opts.onState?.('live');
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      let buf = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += value.replace(/\r\n?/g, '\n');
        let sep;
        while ((sep = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, sep);
          buf = buf.slice(sep + 2);
          const e = parseBlock(block);
          if (e.retry) retryMs = e.retry;
          if (e.id !== null) lastId = e.id;
          if (!e.hasData) continue;
          const ev = { id: e.id, event: e.event, data: e.data };
          if (opts.isFinal?.(ev)) finished = true;
          opts.onEvent(ev);
        }
      }
    } catch {
      if (opts.signal.aborted) return;
    }
    if (finished) return opts.onState?.('ended');
    opts.onState?.('reconnecting');
    await new Promise((r) => setTimeout(r, retryMs));
  }
}

/** @param {string} block */
function parseBlock(block) {
  const e = { id: /** @type {string | null} */ (null), event: 'message', data: '', hasData: false, retry: 0 };
  for (const line of block.split('\n')) {
    if (!line || line.startsWith(':')) continue;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
    if (field === 'id') e.id = value;
    else if (field === 'event') e.event = value;
    else if (field === 'retry' && /^\d+$/.test(value)) e.retry = Number(value);
    else if (field === 'data') {
      e.data += (e.hasData ? '\n' : '') + value;
      e.hasData = true;
    }
  }
  return e;
}
