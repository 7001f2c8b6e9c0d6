/**
 * URL guard matrix.
 *
 * HARD RULE: nothing here may open a socket to a non-loopback address. Non-loopback addresses
 * are only ever classified (pure calls) or handed out by fake resolvers for `.test` names, and
 * every guard that can dial is built with `safetyNet`, which throws before any address that is
 * not loopback reaches the socket layer, even if the policy code were broken.
 */
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import ipaddr from 'ipaddr.js';
import { request } from 'undici';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { HookwaveError } from '../src/errors.js';
import { compilePolicy, describeAddress, isAddressAllowed } from '../src/net/address-policy.js';
import { readCapped } from '../src/net/read-capped.js';
import { GuardRefusedError, UrlGuard, isGuardRefusal, type Resolver, type UrlGuardOptions } from '../src/net/url-guard.js';
import { postCapped } from '../src/net/post.js';
import { until } from './helpers/until.js';

const strict = { allowLoopback: false, allowCidrs: [] };

describe('address policy (classification only, never dialed)', () => {
  const refused: Array<[string, string]> = [
    ['0.0.0.0', 'unspecified'],
    ['0.1.2.3', 'unspecified'],
    ['127.0.0.1', 'loopback'],
    ['127.255.255.254', 'loopback'],
    ['10.0.0.1', 'private'],
    ['10.255.255.255', 'private'],
    ['172.16.0.1', 'private'],
    ['172.31.255.255', 'private'],
    ['192.168.1.1', 'private'],
    ['169.254.169.254', 'linkLocal'],
    ['100.64.0.1', 'carrierGradeNat'],
    ['100.127.255.255', 'carrierGradeNat'],
    ['192.0.0.8', 'reserved'],
    ['192.0.2.1', 'reserved'],
    ['198.18.0.1', 'reserved'],
    ['198.19.255.255', 'reserved'],
    ['198.51.100.7', 'reserved'],
    ['203.0.113.9', 'reserved'],
    ['224.0.0.1', 'multicast'],
    ['239.255.255.250', 'multicast'],
    ['240.0.0.1', 'reserved'],
    ['255.255.255.255', 'broadcast'],
    ['::', 'unspecified'],
    ['::1', 'loopback'],
    ['fc00::1', 'uniqueLocal'],
    ['fd00::1', 'uniqueLocal'],
    ['fe80::1', 'linkLocal'],
    ['fe80::1%eth0', 'linkLocal'],
    ['ff02::1', 'multicast'],
    ['2001:db8::1', 'reserved'],
    ['4000::1', 'unallocated'],
    ['::ffff:127.0.0.1', 'ipv4Mapped:loopback'],
    ['::ffff:10.0.0.1', 'ipv4Mapped:private'],
    ['::ffff:169.254.169.254', 'ipv4Mapped:linkLocal'],
    ['::7f00:1', 'ipv4Compatible:loopback'],
    ['::a00:1', 'ipv4Compatible:private'],
    ['::ffff:0:7f00:1', 'rfc6145:loopback'],
    ['64:ff9b::7f00:1', 'nat64:loopback'],
    ['64:ff9b::a9fe:a9fe', 'nat64:linkLocal'],
    ['64:ff9b:1::a00:1', 'nat64LocalUse'],
    ['2002:7f00:1::1', '6to4:loopback'],
    ['2002:a00:1::1', '6to4:private'],
    ['2001:0:4136:e378:8000:63bf:3fff:fdd2', 'teredo'],
    ['127.1', 'invalid'],
    ['not-an-ip', 'invalid'],
  ];
  it.each(refused)('refuses %s (%s)', (ip, range) => {
    expect(isAddressAllowed(ip, strict)).toBe(false);
    expect(describeAddress(ip)).toBe(range);
  });

  it.each(['8.8.8.8', '1.1.1.1', '93.184.216.34', '2606:4700::1111', '2a00:1450:4001:80b::200e', '::ffff:8.8.8.8', '64:ff9b::808:808', '2002:808:808::1'])(
    'allows public %s',
    (ip) => expect(isAddressAllowed(ip, strict)).toBe(true),
  );

  it('allowLoopback admits loopback only', () => {
    const dev = { allowLoopback: true, allowCidrs: [] };
    for (const ip of ['127.0.0.1', '127.9.9.9', '::1', '::ffff:127.0.0.1']) expect(isAddressAllowed(ip, dev), ip).toBe(true);
    for (const ip of ['10.0.0.1', '169.254.169.254', 'fd00::1', '0.0.0.0', '::', '64:ff9b::7f00:1']) expect(isAddressAllowed(ip, dev), ip).toBe(false);
  });

  it('allowCidrs admits operator ranges, v4 CIDRs also covering IPv4-mapped addresses', () => {
    const policy = compilePolicy({ allowLoopback: false, allowCidrs: ['10.0.0.0/8', 'fd12:3456::/32'] });
    expect(isAddressAllowed('10.1.2.3', policy)).toBe(true);
    expect(isAddressAllowed('::ffff:10.1.2.3', policy)).toBe(true);
    expect(isAddressAllowed('fd12:3456::9', policy)).toBe(true);
    expect(isAddressAllowed('10.1.2.3', strict)).toBe(false);
    expect(isAddressAllowed('192.168.1.1', policy)).toBe(false);
    expect(isAddressAllowed('fd00::1', policy)).toBe(false);
    expect(isAddressAllowed('127.0.0.1', policy)).toBe(false);
  });

  it('rejects an invalid CIDR clearly', () => {
    expect(() => compilePolicy({ allowLoopback: false, allowCidrs: ['10.0.0.0/33'] })).toThrow(/allowCidrs: "10.0.0.0\/33" is not a valid CIDR/);
    expect(() => compilePolicy({ allowLoopback: false, allowCidrs: ['banana'] })).toThrow(/not a valid CIDR/);
  });
});

describe('checkUrl', () => {
  const guards: UrlGuard[] = [];
  const make = (opts: Partial<UrlGuardOptions> = {}) => {
    const guard = new UrlGuard({ allowHttp: false, allowLoopback: false, allowCidrs: [], ...opts });
    guards.push(guard);
    return guard;
  };
  afterAll(async () => Promise.all(guards.map((g) => g.close())));

  const failure = (fn: () => unknown): HookwaveError => {
    try {
      fn();
    } catch (err) {
      expect(err).toBeInstanceOf(HookwaveError);
      return err as HookwaveError;
    }
    throw new Error('expected checkUrl to throw');
  };

  it('accepts a public https URL and leaves the query alone', () => {
    const url = make().checkUrl('https://hooks.example.com/in?token=a%2Fb&x=1#frag', 'webhook_url');
    expect(url.hostname).toBe('hooks.example.com');
    expect(url.search).toBe('?token=a%2Fb&x=1');
  });

  it.each([
    ['not a url', 'INVALID_URL', 'webhook_url must not contain whitespace'],
    ['nope', 'INVALID_URL', 'webhook_url is not a valid URL'],
    ['ftp://example.com/x', 'INVALID_URL', 'webhook_url must be an http(s) URL'],
    ['file:///etc/passwd', 'INVALID_URL', 'webhook_url must be an http(s) URL'],
    ['https://user:pw@example.com/', 'INVALID_URL', 'user name or password'],
    ['https://user@example.com/', 'INVALID_URL', 'user name or password'],
    [' https://example.com/', 'INVALID_URL', 'whitespace'],
    ['https://exa\tmple.com/', 'INVALID_URL', 'whitespace'],
    [`https://example.com/${'a'.repeat(2048)}`, 'INVALID_URL', 'at most 2048 characters'],
    ['http://example.com/', 'URL_NOT_ALLOWED', 'webhook_url must use https'],
  ])('%s → %s', (raw, code, message) => {
    const err = failure(() => make().checkUrl(raw, 'webhook_url'));
    expect(err.code).toBe(code);
    expect(err.message).toContain(message);
  });

  it('accepts exactly 2048 characters', () => {
    const raw = `https://example.com/${'a'.repeat(2048 - 'https://example.com/'.length)}`;
    expect(raw).toHaveLength(2048);
    expect(make().checkUrl(raw, 'input_url').hostname).toBe('example.com');
  });

  it('allowHttp permits http to public hosts', () => {
    expect(make({ allowHttp: true }).checkUrl('http://example.com/x', 'webhook_url').protocol).toBe('http:');
  });

  it.each([
    ['https://127.0.0.1/', 'loopback'],
    ['https://2130706433/', 'loopback'],
    ['https://0x7f000001/', 'loopback'],
    ['https://0x7f.0.0.1/', 'loopback'],
    ['https://0177.0.0.1/', 'loopback'],
    ['https://127.1/', 'loopback'],
    ['https://127.0.0.1./', 'loopback'],
    ['https://0/', 'unspecified'],
    ['https://10.0.0.1/', 'private'],
    ['https://012.0.0.1/', 'private'],
    ['https://167772161/', 'private'],
    ['https://169.254.169.254/latest/meta-data/', 'linkLocal'],
    ['https://0xa9fea9fe/', 'linkLocal'],
    ['https://[::1]/', 'loopback'],
    ['https://[0:0:0:0:0:0:0:1]/', 'loopback'],
    ['https://[::ffff:127.0.0.1]/', 'ipv4Mapped:loopback'],
    ['https://[::ffff:a9fe:a9fe]/', 'ipv4Mapped:linkLocal'],
    ['https://[fd00::1]/', 'uniqueLocal'],
    ['https://[fe80::1]/', 'linkLocal'],
    ['https://[64:ff9b::7f00:1]/', 'nat64:loopback'],
  ])('refuses literal %s (%s)', (raw, range) => {
    const err = failure(() => make().checkUrl(raw, 'input_url'));
    expect(err.code).toBe('URL_NOT_ALLOWED');
    expect(err.message).toMatch(/^input_url points to a /);
    expect(err.message).toContain(range);
  });

  it.each(['https://localhost/', 'https://LOCALHOST./', 'https://api.localhost/', 'https://localhost.localdomain/', 'https://ip6-localhost/'])(
    'refuses local name %s',
    (raw) => {
      const err = failure(() => make().checkUrl(raw, 'webhook_url'));
      expect(err.code).toBe('URL_NOT_ALLOWED');
      expect(err.message).toContain('local host name');
    },
  );

  it('allowLoopback permits loopback literals and localhost, nothing else', () => {
    const dev = make({ allowHttp: true, allowLoopback: true });
    for (const raw of ['http://localhost:3000/', 'http://127.0.0.1/', 'http://2130706433/', 'http://[::1]:8080/', 'http://api.localhost/']) {
      expect(() => dev.checkUrl(raw, 'webhook_url'), raw).not.toThrow();
    }
    expect(failure(() => dev.checkUrl('http://10.0.0.1/', 'webhook_url')).code).toBe('URL_NOT_ALLOWED');
  });

  it('allowCidrs permits operator ranges (classification only)', () => {
    const guard = make({ allowCidrs: ['10.0.0.0/8'] });
    expect(guard.checkUrl('https://10.1.2.3/hook', 'webhook_url').hostname).toBe('10.1.2.3');
    expect(failure(() => guard.checkUrl('https://192.168.0.1/', 'webhook_url')).code).toBe('URL_NOT_ALLOWED');
  });

  it('does not resolve DNS', () => {
    let calls = 0;
    const guard = make({ resolver: async () => (calls++, []) });
    guard.checkUrl('https://receiver.test/', 'webhook_url');
    expect(calls).toBe(0);
  });

  it('remembers only what it accepted: a refused URL is refused every time, under its own field', () => {
    const guard = make();
    for (let i = 0; i < 3; i++) guard.assertUrl('https://hooks.example.com/audio?token=abc', 'webhook_url');
    for (const field of ['webhook_url', 'input.url']) {
      const err = failure(() => guard.assertUrl('https://127.0.0.1/hook', field));
      expect(err.code).toBe('URL_NOT_ALLOWED');
      expect(err.details).toMatchObject({ field });
    }
    expect(failure(() => guard.assertUrl('http://hooks.example.com/audio', 'webhook_url')).code).toBe('URL_NOT_ALLOWED');
    // Past its bound the memory starts over, and every URL is still checked on the way in.
    for (let i = 0; i < 1100; i++) guard.assertUrl(`https://hooks.example.com/${i}`, 'webhook_url');
    expect(failure(() => guard.assertUrl('https://10.0.0.1/', 'webhook_url')).code).toBe('URL_NOT_ALLOWED');
  });
});

describe('guard.lookup (net lookup contract, no sockets)', () => {
  const lookupOnce = (guard: UrlGuard, options: object) =>
    new Promise<unknown[]>((resolve) => guard.lookup('receiver.test', options, (...args) => resolve(args)));

  it('answers both the { all: true } and the single-address shapes', async () => {
    const resolver: Resolver = async () => [
      { address: '::1', family: 6 },
      { address: '127.0.0.1', family: 4 },
    ];
    const guard = new UrlGuard({ allowHttp: true, allowLoopback: true, allowCidrs: [], resolver });
    expect(await lookupOnce(guard, { all: true })).toEqual([null, [{ address: '::1', family: 6 }, { address: '127.0.0.1', family: 4 }]]);
    expect(await lookupOnce(guard, {})).toEqual([null, '::1', 6]);
    expect(await lookupOnce(guard, { family: 4 })).toEqual([null, '127.0.0.1', 4]);
    await guard.close();
  });

  it('fails with a guard refusal in either shape', async () => {
    const guard = new UrlGuard({ allowHttp: true, allowLoopback: false, allowCidrs: [], resolver: async () => [{ address: '10.0.0.5', family: 4 }] });
    for (const options of [{ all: true }, {}]) {
      const [err] = await lookupOnce(guard, options);
      expect(err).toBeInstanceOf(GuardRefusedError);
      expect((err as Error).message).toBe('refused to connect to receiver.test: it resolves to 10.0.0.5 (private address)');
    }
    await guard.close();
  });
});

describe('connect-time enforcement (dials loopback only)', () => {
  let server: http.Server;
  let port: number;
  const seenPaths: string[] = [];
  const dialed: string[] = [];
  let guard: UrlGuard | undefined;

  /** Independent of the policy under test: refuses to let anything but loopback reach a socket. */
  const safetyNet = (address: string) => {
    if (ipaddr.process(address).range() !== 'loopback') throw new Error(`SAFETY NET: test tried to dial ${address}`);
    dialed.push(address);
  };

  const makeGuard = (resolver: Resolver | undefined, allowLoopback: boolean, allowCidrs: string[] = []) => {
    guard = new UrlGuard({ allowHttp: true, allowLoopback, allowCidrs, resolver, connectHook: safetyNet });
    return guard;
  };
  const fixed =
    (...addresses: string[]): Resolver =>
    async (hostname) => {
      if (hostname !== 'receiver.test') throw new Error(`unexpected lookup of ${hostname}`);
      return addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
    };

  /** Client ports of the connections the server accepted, in order. */
  const accepted: number[] = [];
  /**
   * The connections that reached the server, counted once a probe dialed now has arrived: a connect
   * that slipped through earlier is accepted before it.
   */
  const reachedServer = async (): Promise<number> => {
    const probe = net.connect(port, '127.0.0.1');
    await new Promise<void>((resolve, reject) => probe.once('connect', resolve).once('error', reject));
    const probePort = probe.localPort!;
    await until('the probe connection to reach the server', () => accepted.includes(probePort), 5000, 5);
    probe.destroy();
    accepted.splice(accepted.indexOf(probePort), 1);
    return accepted.length;
  };

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      seenPaths.push(req.url ?? '');
      if (req.url === '/redirect') {
        res.writeHead(302, { location: 'http://10.0.0.1/' }).end();
      } else if (req.url === '/big') {
        res.writeHead(200, { 'content-type': 'text/plain' }).end(Buffer.alloc(1024 * 1024, 'a'));
      } else if (req.url === '/utf8') {
        res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' }).end('é'.repeat(100));
      } else {
        res.end('ok');
      }
    });
    server.on('connection', (socket) => {
      accepted.push(socket.remotePort!);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(async () => new Promise((resolve) => server.close(resolve)));
  beforeEach(() => {
    accepted.length = 0;
    seenPaths.length = 0;
    dialed.length = 0;
  });
  afterEach(async () => {
    await guard?.close();
    guard = undefined;
  });

  const expectRefused = async (url: string, g: UrlGuard, address: string) => {
    const err = await request(url, { dispatcher: g.dispatcher }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err, 'request should have been refused').not.toBeNull();
    expect(isGuardRefusal(err), String(err)).toBe(true);
    expect(err).toBeInstanceOf(GuardRefusedError);
    expect((err as GuardRefusedError).address).toBe(address);
    expect(await reachedServer()).toBe(0);
    expect(dialed).toEqual([]);
  };

  it('(a) reaches the server when the name resolves to loopback and loopback is allowed', async () => {
    const g = makeGuard(fixed('127.0.0.1'), true);
    const res = await request(`http://receiver.test:${port}/hello?x=1`, { dispatcher: g.dispatcher });
    expect(res.statusCode).toBe(200);
    expect(await res.body.text()).toBe('ok');
    expect(seenPaths).toEqual(['/hello?x=1']);
    expect(dialed).toEqual(['127.0.0.1']);
  });

  it.each([
    ['10.0.0.5', 'private'],
    ['169.254.169.254', 'linkLocal'],
    ['::ffff:127.0.0.1', 'ipv4Mapped:loopback'],
    ['fd00::1', 'uniqueLocal'],
  ])('(b) refuses a name resolving to %s (%s) before dialing', async (address, range) => {
    const g = makeGuard(fixed(address), false);
    await expectRefused(`http://receiver.test:${port}/`, g, address);
    const err = await request(`http://receiver.test:${port}/`, { dispatcher: g.dispatcher }).catch((e: unknown) => e);
    expect((err as Error).message).toBe(`refused to connect to receiver.test: it resolves to ${address} (${range} address)`);
    expect((err as GuardRefusedError).code).toBe('URL_NOT_ALLOWED');
  });

  // Every range the guard refuses, through the real connect path (a name our resolver answers).
  it.each([
    '127.0.0.1', '127.8.9.10', '10.255.0.1', '172.16.0.1', '172.31.255.254', '192.168.1.1', '169.254.169.254', '100.64.0.1', '100.127.255.254',
    '0.0.0.0', '0.1.2.3', '224.0.0.1', '239.255.255.250', '240.0.0.1', '255.255.255.255',
    '::1', '::', 'fc00::1', 'fdff::1', 'fe80::1', 'ff02::1', '::ffff:10.0.0.1', '::ffff:169.254.169.254', '64:ff9b::a00:1', '64:ff9b::7f00:1', '64:ff9b:1::a00:1',
  ])('(b) refuses a name resolving to %s at connect time, before any socket', async (address) => {
    await expectRefused(`http://receiver.test:${port}/`, makeGuard(fixed(address), false), address);
  });

  it('(b) lets an operator allow-list a private range at connect time, and only that range', async () => {
    // The policy admits 10.0.0.5; the safety net then stops the dial, which is what shows it got that far.
    const g = makeGuard(fixed('10.0.0.5'), false, ['10.0.0.0/8']);
    const err = await request(`http://receiver.test:${port}/`, { dispatcher: g.dispatcher }).catch((e: unknown) => e);
    expect(String((err as Error).message)).toContain('SAFETY NET: test tried to dial 10.0.0.5');
    expect(isGuardRefusal(err)).toBe(false);
    await guard?.close();
    await expectRefused(`http://receiver.test:${port}/`, makeGuard(fixed('192.168.0.5'), false, ['10.0.0.0/8']), '192.168.0.5');
  });

  it('(c) catches DNS rebinding between the submit-time check and connect', async () => {
    let calls = 0;
    const rebinding: Resolver = async () => [{ address: calls++ === 0 ? '93.184.216.34' : '10.0.0.1', family: 4 }];
    const g = makeGuard(rebinding, false);
    const url = `http://receiver.test:${port}/`;
    g.checkUrl(url, 'webhook_url');
    // A pre-flight resolution (as a caller might do) sees a public address...
    const [first] = await rebinding('receiver.test');
    expect(isAddressAllowed(first!.address, strict)).toBe(true);
    // ...but the connect step resolves again and sees the rebound one.
    await expectRefused(url, g, '10.0.0.1');
    expect(calls).toBe(2);
  });

  it('(d) checks IP literals at connect time (net.connect skips lookup for them)', async () => {
    const g = makeGuard(fixed(), false);
    await expectRefused(`http://127.0.0.1:${port}/`, g, '127.0.0.1');
    await expectRefused(`http://[::1]:${port}/`, g, '::1');
  });

  it('(d) lets IP literals through when allowed', async () => {
    const g = makeGuard(fixed(), true);
    const res = await request(`http://127.0.0.1:${port}/`, { dispatcher: g.dispatcher });
    expect(res.statusCode).toBe(200);
    await res.body.dump();
    expect(dialed).toEqual(['127.0.0.1']);
  });

  it('(e) refuses a mixed answer if any address is not allowed', async () => {
    await expectRefused(`http://receiver.test:${port}/`, makeGuard(fixed('93.184.216.34', '10.0.0.5'), false), '10.0.0.5');
    await guard?.close();
    // Even when the allowed address is dialable loopback.
    await expectRefused(`http://receiver.test:${port}/`, makeGuard(fixed('127.0.0.1', '10.0.0.5'), true), '10.0.0.5');
  });

  it('(f) returns a redirect as-is instead of following it', async () => {
    const g = makeGuard(fixed('127.0.0.1'), true);
    const res = await request(`http://receiver.test:${port}/redirect`, { dispatcher: g.dispatcher });
    expect(res.statusCode).toBe(302);
    expect(res.headers.location).toBe('http://10.0.0.1/');
    await res.body.dump();
    expect(seenPaths).toEqual(['/redirect']);
  });

  it('(g) readCapped caps a 1 MB body at 16 KB', async () => {
    const g = makeGuard(fixed('127.0.0.1'), true);
    const res = await request(`http://receiver.test:${port}/big`, { dispatcher: g.dispatcher });
    const { text, truncated } = await readCapped(res.body, 16 * 1024);
    expect(truncated).toBe(true);
    expect(text).toHaveLength(16 * 1024);
    expect(res.body.destroyed).toBe(true);
  });

  it('(g) readCapped reads short bodies whole and never splits a character', async () => {
    const g = makeGuard(fixed('127.0.0.1'), true);
    const small = await request(`http://receiver.test:${port}/`, { dispatcher: g.dispatcher });
    expect(await readCapped(small.body, 16 * 1024)).toEqual({ text: 'ok', truncated: false });
    const exact = await request(`http://receiver.test:${port}/`, { dispatcher: g.dispatcher });
    expect(await readCapped(exact.body, 2)).toEqual({ text: 'ok', truncated: false });
    const utf8 = await request(`http://receiver.test:${port}/utf8`, { dispatcher: g.dispatcher });
    expect(await readCapped(utf8.body, 7)).toEqual({ text: 'ééé', truncated: true });
  });

  describe('postCapped (the dispatcher\'s POST)', () => {
  it('keeps the first 16 KB of a 1 MB answer and stops reading', async () => {
    const g = makeGuard(fixed('127.0.0.1'), true);
    const res = await postCapped(g.dispatcher, `http://receiver.test:${port}/big`, { body: '{}', headers: {}, timeoutMs: 5000, cap: 16 * 1024 });
    expect(res).toMatchObject({ statusCode: 200, truncated: true });
    expect(res.excerpt).toHaveLength(16 * 1024);
  });

  it('reads short answers whole, never splits a character, and returns redirects as they are', async () => {
    const g = makeGuard(fixed('127.0.0.1'), true);
    const post = (p: string, cap: number) => postCapped(g.dispatcher, `http://receiver.test:${port}${p}`, { body: '{}', headers: { 'content-type': 'application/json' }, timeoutMs: 5000, cap });
    expect(await post('/', 16 * 1024)).toMatchObject({ statusCode: 200, excerpt: 'ok', truncated: false });
    expect(await post('/', 2)).toMatchObject({ excerpt: 'ok', truncated: false });
    expect(await post('/utf8', 7)).toMatchObject({ excerpt: 'ééé', truncated: true });
    const redirect = await post('/redirect', 1024);
    expect(redirect.statusCode).toBe(302);
    expect(redirect.headers.location).toBe('http://10.0.0.1/');
  });

  it('fails with the guard\'s refusal when the name resolves to a private address', async () => {
    const g = makeGuard(fixed('10.0.0.5'), false);
    const err = await postCapped(g.dispatcher, `http://receiver.test:${port}/`, { body: '{}', headers: {}, timeoutMs: 5000, cap: 1024 }).catch((e: unknown) => e);
    expect(isGuardRefusal(err)).toBe(true);
  });
  });
});

describe('isGuardRefusal', () => {
  it('finds the refusal through a cause chain and ignores other errors', () => {
    const refusal = new GuardRefusedError('receiver.test', '10.0.0.5');
    expect(isGuardRefusal(refusal)).toBe(true);
    expect(isGuardRefusal(new TypeError('fetch failed', { cause: refusal }))).toBe(true);
    expect(isGuardRefusal(new HookwaveError('URL_NOT_ALLOWED', 'x'))).toBe(true);
    expect(isGuardRefusal(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }))).toBe(false);
    expect(isGuardRefusal(undefined)).toBe(false);
  });
});
