/**
 * SSRF guard for every outbound request (webhook deliveries, input downloads).
 *
 * Two layers: `checkUrl` rejects bad URLs when they are submitted (syntax, scheme, literal IPs,
 * localhost names), and `dispatcher` re-checks at connect time, after DNS, so a name that
 * resolves (or later rebinds) to a private address is never dialed.
 */
import dns from 'node:dns';
import net from 'node:net';
import { Agent, buildConnector, type Dispatcher } from 'undici';
import { HookwaveError } from '../errors.js';
import { compilePolicy, describeAddress, isAddressAllowed, type CompiledPolicy } from './address-policy.js';

export interface ResolvedAddress {
  address: string;
  family: 4 | 6;
}
export type Resolver = (hostname: string) => Promise<ResolvedAddress[]>;

export interface UrlGuardOptions {
  allowHttp: boolean;
  allowLoopback: boolean;
  allowCidrs: string[];
  resolver?: Resolver;
  /**
   * Called with every address after it passed the policy, right before it is handed to the
   * socket layer; throwing aborts the connect. Tests use it as an independent safety net.
   */
  connectHook?: (address: string, hostname: string) => void;
}

export const systemResolver: Resolver = async (hostname) => {
  const rows = await dns.promises.lookup(hostname, { all: true, verbatim: true });
  return rows.map((r) => ({ address: r.address, family: r.family === 6 ? 6 : 4 }));
};

export const MAX_URL_LENGTH = 2048;
const ACCEPTED_URLS_KEPT = 1000;

/** What the connect step fails with; undici hands it unchanged to the request promise. */
export class GuardRefusedError extends Error {
  readonly code = 'URL_NOT_ALLOWED';
  readonly hostname: string;
  readonly address: string;
  readonly addressClass: string;

  constructor(hostname: string, address: string) {
    const addressClass = describeAddress(address);
    super(
      hostname === address
        ? `refused to connect to ${address} (${addressClass} address)`
        : `refused to connect to ${hostname}: it resolves to ${address} (${addressClass} address)`,
    );
    this.name = 'GuardRefusedError';
    this.hostname = hostname;
    this.address = address;
    this.addressClass = addressClass;
  }
}

/** True for a guard refusal anywhere in the cause chain (fetch wraps it as TypeError('fetch failed')). */
export function isGuardRefusal(err: unknown): boolean {
  for (let e = err, depth = 0; e && typeof e === 'object' && depth < 8; e = (e as { cause?: unknown }).cause, depth++) {
    if (e instanceof GuardRefusedError || (e as { code?: unknown }).code === 'URL_NOT_ALLOWED') return true;
  }
  return false;
}

// Names that mean "this machine" without DNS (glibc and systemd-resolved short-circuit them).
const LOCAL_NAMES = new Set(['localhost', 'localhost.localdomain', 'ip6-localhost', 'ip6-loopback']);

function isLocalName(hostname: string): boolean {
  const name = hostname.toLowerCase().replace(/\.+$/, '');
  return LOCAL_NAMES.has(name) || name.endsWith('.localhost');
}

const bare = (hostname: string) => (hostname.startsWith('[') && hostname.endsWith(']') ? hostname.slice(1, -1) : hostname);

export class UrlGuard {
  readonly dispatcher: Dispatcher;
  /**
   * A net/dns-compatible lookup that enforces the policy; handles both `{ all: true }` (what
   * net uses with autoSelectFamily, the Node 20 default) and the single-address callback.
   * Note net.connect skips lookup for IP literals, so on its own it does not cover those.
   */
  readonly lookup: net.LookupFunction;

  private readonly policy: CompiledPolicy;
  private readonly resolver: Resolver;

  constructor(private readonly opts: UrlGuardOptions) {
    this.policy = compilePolicy(opts);
    this.resolver = opts.resolver ?? systemResolver;
    this.lookup = (hostname, options, callback) => {
      this.resolveChecked(hostname).then((all) => {
        const wanted = options.family === 4 || options.family === 6 ? all.filter((a) => a.family === options.family) : all;
        const first = wanted[0];
        if (!first) return callback(notFound(hostname), options.all ? [] : '');
        if (options.all) callback(null, wanted);
        else callback(null, first.address, first.family);
      }, (err: NodeJS.ErrnoException) => callback(err, options.all ? [] : ''));
    };

    const connectVia = buildConnector({ lookup: this.lookup });
    this.connect = (connectOpts, callback) => {
      // undici already strips [] from v6 literals; net.connect will not call lookup for them.
      const host = bare(connectOpts.hostname);
      if (net.isIP(host)) {
        try {
          this.admit(host, [host]);
        } catch (err) {
          // Async like a real connect failure: undici's client is mid-connect() here.
          process.nextTick(callback, err as Error, null);
          return;
        }
      }
      connectVia(connectOpts, callback);
    };
    this.dispatcher = new Agent({ connect: this.connect });
  }

  private readonly connect: buildConnector.connector;

  /**
   * An Agent of its own, for work that must not share connections: an input download uses one per
   * download, so a tenant's connection is never reused for another's and a broken one dies with it.
   */
  newAgent(options: Omit<Agent.Options, 'connect'> = {}): Agent {
    return new Agent({ ...options, connect: this.connect });
  }

  /** URLs that passed `checkUrl` lately: a client sends the same webhook URL with every task. */
  private readonly accepted = new Set<string>();

  /** `checkUrl` for a caller that needs no parsed URL; remembers what passed, as the answer depends only on the string. */
  assertUrl(raw: string, field: string): void {
    if (this.accepted.has(raw)) return;
    this.checkUrl(raw, field);
    if (this.accepted.size >= ACCEPTED_URLS_KEPT) this.accepted.clear();
    this.accepted.add(raw);
  }

  /** Syntax + policy check at submit time; no DNS. The caller stores `raw` verbatim. */
  checkUrl(raw: string, field: string): URL {
    if (typeof raw !== 'string') throw new HookwaveError('INVALID_URL', `${field} must be a string`, { field });
    if (raw.length > MAX_URL_LENGTH) throw new HookwaveError('INVALID_URL', `${field} must be at most ${MAX_URL_LENGTH} characters`, { field });
    // The URL parser silently drops these, so what we check would differ from what is stored.
    if (/[\s\x00-\x1f\x7f]/.test(raw)) throw new HookwaveError('INVALID_URL', `${field} must not contain whitespace or control characters`, { field });
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      throw new HookwaveError('INVALID_URL', `${field} is not a valid URL`, { field });
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new HookwaveError('INVALID_URL', `${field} must be an http(s) URL`, { field });
    if (url.username || url.password) throw new HookwaveError('INVALID_URL', `${field} must not contain a user name or password`, { field });
    if (url.protocol === 'http:' && !this.opts.allowHttp) throw new HookwaveError(
        'URL_NOT_ALLOWED',
        field.startsWith('webhook') || field === 'url'
          ? `${field} must use https (for a receiver on your own machine, start the server with --dev, or forward events to it with \`hookwave listen --forward-to\`)`
          : `${field} must use https (http:// is allowed only when the server runs with --dev)`,
        { field },
      );

    // Already canonical: the parser turns 2130706433, 0x7f.0.0.1, 0177.0.0.1 into 127.0.0.1.
    const host = bare(url.hostname);
    if (net.isIP(host)) {
      if (!isAddressAllowed(host, this.policy)) {
        throw new HookwaveError('URL_NOT_ALLOWED', `${field} points to a ${describeAddress(host)} address (${host}), which is not allowed`, { field });
      }
    } else if (isLocalName(host) && !this.policy.allowLoopback) {
      throw new HookwaveError('URL_NOT_ALLOWED', `${field} points to a local host name (${host}), which is not allowed`, { field });
    }
    return url;
  }

  close(): Promise<void> {
    return this.dispatcher.close();
  }

  private async resolveChecked(hostname: string): Promise<ResolvedAddress[]> {
    const resolved = await this.resolver(hostname);
    // Family comes from the address itself: net would dial a mislabelled one with the wrong family.
    const addresses = resolved.map((r) => ({ address: r.address, family: net.isIP(r.address) === 6 ? 6 : 4 }) as const);
    if (addresses.length === 0) throw notFound(hostname);
    this.admit(hostname, addresses.map((a) => a.address));
    return addresses;
  }

  /** All or nothing: one bad address in a mixed answer means the name is not trustworthy. */
  private admit(hostname: string, addresses: string[]): void {
    for (const address of addresses) {
      if (!isAddressAllowed(address, this.policy)) throw new GuardRefusedError(hostname, address);
    }
    for (const address of addresses) this.opts.connectHook?.(address, hostname);
  }
}

function notFound(hostname: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND', hostname });
}
