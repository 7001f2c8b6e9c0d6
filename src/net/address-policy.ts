/**
 * Which IP addresses outbound requests may reach. Default-deny: only globally routable unicast
 * passes; the development flag adds loopback and the operator may add CIDRs.
 */
import net from 'node:net';
import ipaddr from 'ipaddr.js';

type IPv4 = ipaddr.IPv4;
type IPv6 = ipaddr.IPv6;
type Addr = IPv4 | IPv6;
const isV4 = (addr: Addr): addr is IPv4 => addr.kind() === 'ipv4';

export interface AddressPolicy {
  /** Development: allow 127.0.0.0/8 and ::1 (also in IPv4-mapped form). */
  allowLoopback: boolean;
  /** Operator allow-list, v4 or v6 CIDRs, checked before anything else. */
  allowCidrs: string[];
}

export interface CompiledPolicy {
  readonly allowLoopback: boolean;
  readonly ranges: ReadonlyArray<[Addr, number]>;
}

export function compilePolicy(opts: AddressPolicy): CompiledPolicy {
  const ranges = opts.allowCidrs.map((cidr): [Addr, number] => {
    if (!ipaddr.isValidCIDR(cidr.trim())) throw new Error(`allowCidrs: "${cidr}" is not a valid CIDR (e.g. 10.0.0.0/8 or fd00::/8)`);
    return ipaddr.parseCIDR(cidr.trim());
  });
  return { allowLoopback: opts.allowLoopback, ranges };
}

// Everything IANA hands out as global unicast lives here; ipaddr calls the rest of the
// unlisted v6 space 'unicast' too, but it is unallocated and never a legitimate target.
const GLOBAL_UNICAST_V6 = ipaddr.parseCIDR('2000::/3');

interface Embedded {
  form: 'ipv4Mapped' | 'ipv4Compatible' | 'rfc6145' | 'nat64' | '6to4' | 'teredo' | 'nat64LocalUse';
  /** null when the IPv4 cannot be recovered without knowing the operator's setup. */
  v4: IPv4 | null;
  /** The kernel talks IPv4 to this address itself (so dev/allow-list rules apply to the v4). */
  local: boolean;
}

const v4At = (hi: number, lo: number) => new ipaddr.IPv4([hi >> 8, hi & 0xff, lo >> 8, lo & 0xff]);

function embeddedIPv4(v6: IPv6): Embedded | null {
  const p = v6.parts as [number, number, number, number, number, number, number, number];
  switch (v6.range()) {
    case 'ipv4Mapped':
      return { form: 'ipv4Mapped', v4: v4At(p[6], p[7]), local: true };
    case 'rfc6145':
      return { form: 'rfc6145', v4: v4At(p[6], p[7]), local: false };
    case 'rfc6052':
      // 64:ff9b::/96 has a fixed layout; in 64:ff9b:1::/48 the v4 position depends on the local prefix length.
      return p[2] === 0 && p[3] === 0 && p[4] === 0 && p[5] === 0
        ? { form: 'nat64', v4: v4At(p[6], p[7]), local: false }
        : { form: 'nat64LocalUse', v4: null, local: false };
    case '6to4':
      return { form: '6to4', v4: v4At(p[1], p[2]), local: false };
    case 'teredo':
      // Server and (obfuscated) client v4 are both in there; not worth the risk of getting it wrong.
      return { form: 'teredo', v4: null, local: false };
    case 'unicast':
      // Deprecated IPv4-compatible ::a.b.c.d (:: and ::1 are classified before reaching here).
      return p.slice(0, 6).every((x) => x === 0) ? { form: 'ipv4Compatible', v4: v4At(p[6], p[7]), local: true } : null;
    default:
      return null;
  }
}

/** Strict parse: only canonical textual addresses (ipaddr alone also accepts "127.1", "0x7f.0.0.1"). */
function parse(ip: string): Addr | null {
  return net.isIP(ip) ? ipaddr.parse(ip) : null;
}

function allowedByClass(addr: Addr, allowLoopback: boolean): boolean {
  if (isV4(addr)) {
    const range = addr.range();
    return range === 'unicast' || (allowLoopback && range === 'loopback');
  }
  const embedded = embeddedIPv4(addr);
  if (embedded) {
    if (!embedded.v4) return false;
    // Translated forms reach the v4 through someone else's gateway: only public targets make sense.
    return embedded.local ? allowedByClass(embedded.v4, allowLoopback) : embedded.v4.range() === 'unicast';
  }
  const range = addr.range();
  if (range === 'loopback') return allowLoopback;
  return range === 'unicast' && addr.match(GLOBAL_UNICAST_V6);
}

function inAllowList(addr: Addr, policy: CompiledPolicy): boolean {
  if (policy.ranges.length === 0) return false;
  // Match the address in both spellings so a v4 CIDR covers ::ffff:a.b.c.d and vice versa.
  const candidates: Addr[] = [addr];
  if (isV4(addr)) candidates.push(addr.toIPv4MappedAddress());
  else {
    const embedded = embeddedIPv4(addr);
    if (embedded?.local && embedded.v4) candidates.push(embedded.v4);
  }
  return policy.ranges.some((range) => candidates.some((c) => c.kind() === range[0].kind() && c.match(range)));
}

export function isAddressAllowed(ip: string, policy: AddressPolicy | CompiledPolicy): boolean {
  const addr = parse(ip);
  if (!addr) return false;
  const compiled = 'ranges' in policy ? policy : compilePolicy(policy);
  return inAllowList(addr, compiled) || allowedByClass(addr, compiled.allowLoopback);
}

/** ipaddr's range name, e.g. 'loopback', 'private', 'linkLocal'; embedded forms read 'ipv4Mapped:loopback'. */
export function describeAddress(ip: string): string {
  const addr = parse(ip);
  if (!addr) return 'invalid';
  if (isV4(addr)) return addr.range();
  const embedded = embeddedIPv4(addr);
  if (embedded) return embedded.v4 ? `${embedded.form}:${embedded.v4.range()}` : embedded.form;
  const range = addr.range();
  return range === 'unicast' && !addr.match(GLOBAL_UNICAST_V6) ? 'unallocated' : range;
}
