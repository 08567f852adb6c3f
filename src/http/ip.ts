// ip.ts: parse, canonicalise and match IPv4/IPv6 addresses and CIDR blocks, with no runtime imports.

/**
 * Ip is a parsed address: an IPv4 address as one unsigned 32-bit number, or an
 * IPv6 address as eight 16-bit groups. IPv4-mapped IPv6 addresses
 * (`::ffff:1.2.3.4`) are returned as IPv4, so both spellings are one client.
 */
export type Ip = { readonly v: 4; readonly n: number } | { readonly v: 6; readonly g: readonly number[] };

/** MAX_ADDRESS_CHARS bounds the text of one address (the longest IPv6 with a zone is far shorter). */
const MAX_ADDRESS_CHARS = 100;

/**
 * parseIp reads an address in any usual spelling and returns it, or undefined
 * for anything else. It accepts dotted-quad IPv4 (no leading zeros, which some
 * parsers read as octal), IPv6 in full, zero-padded, upper-case or compressed
 * form, with an embedded IPv4 tail, in brackets, with a zone (`%eth0`, dropped)
 * and, for `[v6]:port` and `v4:port` (as in RFC 7239 `Forwarded`), a port
 * (dropped). It runs in time linear in the text and reads at most 100 characters.
 */
export function parseIp(text: string): Ip | undefined {
  let s = text;
  if (s.length === 0 || s.length > MAX_ADDRESS_CHARS) return undefined;
  if (s.charCodeAt(0) === 91 /* [ */) {
    const close = s.indexOf("]");
    if (close < 0) return undefined;
    const rest = s.slice(close + 1);
    if (rest !== "" && !/^:\d{1,5}$/.test(rest)) return undefined;
    s = s.slice(1, close);
    const v6 = parseV6(s);
    return v6 === undefined ? undefined : fromGroups(v6);
  }
  const colon = s.indexOf(":");
  if (colon < 0) {
    const n = parseV4(s, 0, s.length);
    return n === undefined ? undefined : { v: 4, n };
  }
  // "1.2.3.4:80": an IPv4 address with a port (one colon, dots before it).
  if (s.indexOf(":", colon + 1) < 0 && s.lastIndexOf(".", colon) > 0) {
    if (!/^\d{1,5}$/.test(s.slice(colon + 1))) return undefined;
    const n = parseV4(s, 0, colon);
    return n === undefined ? undefined : { v: 4, n };
  }
  const v6 = parseV6(s);
  return v6 === undefined ? undefined : fromGroups(v6);
}

/** fromGroups turns eight groups into an Ip, folding IPv4-mapped addresses into IPv4. */
function fromGroups(g: number[]): Ip {
  if (g[0] === 0 && g[1] === 0 && g[2] === 0 && g[3] === 0 && g[4] === 0 && g[5] === 0xffff) {
    return { v: 4, n: (((g[6] as number) << 16) | (g[7] as number)) >>> 0 };
  }
  return { v: 6, g };
}

/** parseV4 reads a strict dotted quad from s[start, end) as an unsigned number. */
function parseV4(s: string, start: number, end: number): number | undefined {
  let n = 0;
  let parts = 0;
  let i = start;
  while (parts < 4) {
    const from = i;
    let x = 0;
    while (i < end) {
      const c = s.charCodeAt(i);
      if (c < 48 || c > 57) break;
      x = x * 10 + (c - 48);
      i++;
      if (i - from > 3) return undefined;
    }
    if (i === from || x > 255 || (i - from > 1 && s.charCodeAt(from) === 48)) return undefined;
    n = n * 256 + x;
    parts++;
    if (parts < 4) {
      if (i >= end || s.charCodeAt(i) !== 46 /* . */) return undefined;
      i++;
    }
  }
  return i === end ? n : undefined;
}

/** parseV6 reads an IPv6 address (zone dropped) into eight groups. */
function parseV6(text: string): number[] | undefined {
  let s = text;
  const zone = s.indexOf("%");
  if (zone >= 0) s = s.slice(0, zone);
  if (s.length < 2) return undefined;
  const head: number[] = [];
  const tail: number[] = [];
  let target = head;
  let compressed = false;
  let i = 0;
  const n = s.length;
  if (s.charCodeAt(0) === 58 /* : */) {
    if (s.charCodeAt(1) !== 58) return undefined;
    compressed = true;
    target = tail;
    i = 2;
    if (i === n) return [0, 0, 0, 0, 0, 0, 0, 0];
  }
  while (i < n) {
    // An IPv4 tail takes the last two groups.
    const dot = s.indexOf(".", i);
    const nextColon = s.indexOf(":", i);
    if (dot >= 0 && (nextColon < 0 || dot < nextColon)) {
      const v4 = parseV4(s, i, n);
      if (v4 === undefined) return undefined;
      target.push(v4 >>> 16, v4 & 0xffff);
      i = n;
      break;
    }
    let x = 0;
    const from = i;
    while (i < n) {
      const c = s.charCodeAt(i);
      const d = c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : c >= 65 && c <= 70 ? c - 55 : -1;
      if (d < 0) break;
      x = x * 16 + d;
      i++;
      if (i - from > 4) return undefined;
    }
    if (i === from) return undefined;
    target.push(x);
    if (i === n) break;
    if (s.charCodeAt(i) !== 58) return undefined;
    i++;
    if (i < n && s.charCodeAt(i) === 58) {
      if (compressed) return undefined;
      compressed = true;
      target = tail;
      i++;
      if (i === n) break;
    } else if (i === n) {
      return undefined;
    }
  }
  const total = head.length + tail.length;
  if (compressed ? total > 7 : total !== 8) return undefined;
  const out = head.slice();
  for (let k = total; k < 8; k++) out.push(0);
  for (const g of tail) out.push(g);
  return out;
}

/** formatIp renders an address canonically: dotted quad, or RFC 5952 IPv6 (lower case, longest zero run as ::). */
export function formatIp(ip: Ip): string {
  if (ip.v === 4) return `${ip.n >>> 24}.${(ip.n >>> 16) & 255}.${(ip.n >>> 8) & 255}.${ip.n & 255}`;
  const g = ip.g;
  let bestAt = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) {
      bestAt = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (from: number, to: number): string => {
    const parts: string[] = [];
    for (let i = from; i < to; i++) parts.push((g[i] as number).toString(16));
    return parts.join(":");
  };
  if (bestAt < 0) return hex(0, 8);
  return `${hex(0, bestAt)}::${hex(bestAt + bestLen, 8)}`;
}

/** maskIp keeps the first `bits` bits of an address and zeroes the rest. */
export function maskIp(ip: Ip, bits: number): Ip {
  if (ip.v === 4) {
    if (bits >= 32) return ip;
    const mask = bits <= 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
    return { v: 4, n: (ip.n & mask) >>> 0 };
  }
  if (bits >= 128) return ip;
  const g: number[] = [];
  for (let i = 0; i < 8; i++) {
    const keep = bits - i * 16;
    const x = ip.g[i] as number;
    g.push(keep >= 16 ? x : keep <= 0 ? 0 : x & ((0xffff << (16 - keep)) & 0xffff));
  }
  return { v: 6, g };
}

/**
 * ipKey returns the bucket name of a client address: IPv4 as its dotted quad
 * (or its `/ipv4Prefix` network), IPv6 as its `/ipv6Prefix` network, 64 by
 * default, so one host cannot rotate through the 2^64 addresses of its LAN.
 * Every spelling of one address gives the same key.
 */
export function ipKey(ip: Ip, ipv4Prefix = 32, ipv6Prefix = 64): string {
  if (ip.v === 4) return ipv4Prefix >= 32 ? formatIp(ip) : `${formatIp(maskIp(ip, ipv4Prefix))}/${ipv4Prefix}`;
  return ipv6Prefix >= 128 ? formatIp(ip) : `${formatIp(maskIp(ip, ipv6Prefix))}/${ipv6Prefix}`;
}

/** Cidr is a parsed network: an address with its prefix length. */
export interface Cidr {
  readonly ip: Ip;
  readonly bits: number;
}

/**
 * parseCidr reads "10.0.0.0/8", "2001:db8::/32" or a bare address (a /32 or
 * /128), and returns undefined for anything else. An IPv4-mapped IPv6 network
 * (`::ffff:10.0.0.0/104`) becomes its IPv4 network.
 */
export function parseCidr(text: string): Cidr | undefined {
  const slash = text.indexOf("/");
  const ip = parseIp(slash < 0 ? text : text.slice(0, slash));
  if (ip === undefined) return undefined;
  const mapped = slash >= 0 && ip.v === 4 && text.indexOf(":") >= 0;
  const max = ip.v === 4 && !mapped ? 32 : 128;
  let bits = max;
  if (slash >= 0) {
    const b = text.slice(slash + 1);
    if (!/^\d{1,3}$/.test(b)) return undefined;
    bits = Number(b);
    if (bits > max) return undefined;
    if (mapped) {
      if (bits < 96) return undefined;
      bits -= 96;
    }
  }
  return { ip: maskIp(ip, bits), bits };
}

/** inCidr reports whether an address lies inside a network (IPv4 never matches IPv6). */
export function inCidr(ip: Ip, net: Cidr): boolean {
  if (ip.v !== net.ip.v) return false;
  const m = maskIp(ip, net.bits);
  if (m.v === 4) return m.n === (net.ip as { n: number }).n;
  const a = (net.ip as { g: readonly number[] }).g;
  for (let i = 0; i < 8; i++) if (m.g[i] !== a[i]) return false;
  return true;
}

/** PRESETS are named groups of networks accepted in trusted-proxy and allow lists. */
export const PRESETS: Readonly<Record<string, readonly string[]>> = {
  loopback: ["127.0.0.0/8", "::1/128"],
  private: ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"],
  linklocal: ["169.254.0.0/16", "fe80::/10"],
};
