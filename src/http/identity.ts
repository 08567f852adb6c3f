// identity.ts: who is the client: the socket peer, or the first untrusted hop of a forwarding chain.

import { describe, FloodgateTypeError } from "../core/errors.js";
import { type Cidr, formatIp, type Ip, inCidr, PRESETS, parseCidr, parseIp } from "./ip.js";

/**
 * TrustProxy says which forwarding information to believe.
 *
 * - `false` (default): none. The client is the socket peer; `X-Forwarded-For`
 *   and `Forwarded` are ignored, since any client can write them.
 * - a number n >= 1: exactly n proxies stand in front of the app. The client
 *   is the n-th address from the right of the forwarding header.
 * - a list of CIDRs or presets (`"loopback"`, `"private"`, `"linklocal"`):
 *   the addresses of your proxies. The chain is read right to left and the
 *   first address outside the list is the client.
 * - a function `(address) => boolean` that says whether an address is a proxy.
 */
export type TrustProxy = false | number | string | readonly string[] | ((address: string) => boolean);

/** ProxyHeader names the forwarding header your proxies append to. Only that one is read. */
export type ProxyHeader = "x-forwarded-for" | "forwarded";

/** MAX_HOPS bounds how many forwarding entries are read, right to left, per request. */
export const MAX_HOPS = 32;
/** MAX_ENTRY_CHARS bounds one forwarding entry; a longer one is junk. */
const MAX_ENTRY_CHARS = 256;

/** Trust is a compiled TrustProxy. */
export interface Trust {
  readonly hops: number;
  readonly isProxy: ((ip: Ip) => boolean) | undefined;
  readonly header: ProxyHeader;
}

/** compileTrust validates a TrustProxy option and compiles it; `where` names the option in errors. */
export function compileTrust(where: string, value: unknown, header: unknown): Trust {
  if (header !== undefined && header !== "x-forwarded-for" && header !== "forwarded") {
    throw new FloodgateTypeError(
      "ERR_INVALID_OPTION",
      `floodgate: ${where}({ proxyHeader }) must be "x-forwarded-for" or "forwarded", got ${describe(header)}; name the header your proxy appends to.`,
    );
  }
  const h: ProxyHeader = (header as ProxyHeader | undefined) ?? "x-forwarded-for";
  if (value === undefined || value === false) return { hops: 0, isProxy: undefined, header: h };
  if (value === true) {
    throw new FloodgateTypeError(
      "ERR_INVALID_OPTION",
      `floodgate: ${where}({ trustProxy: true }) would trust every address, so any client could pick its own key by writing X-Forwarded-For; pass your proxies' CIDRs (["10.0.0.0/8"]), a preset ("loopback", "private") or the number of proxies in front of the app (1).`,
    );
  }
  if (typeof value === "number") {
    if (!Number.isInteger(value) || value < 0 || value > MAX_HOPS) {
      throw new FloodgateTypeError(
        "ERR_INVALID_OPTION",
        `floodgate: ${where}({ trustProxy }) as a hop count must be a whole number from 0 to ${MAX_HOPS}, got ${describe(value)}; pass how many proxies stand in front of the app, such as 1.`,
      );
    }
    return { hops: value, isProxy: undefined, header: h };
  }
  if (typeof value === "function") {
    const fn = value as (address: string) => boolean;
    return { hops: 0, isProxy: (ip) => fn(formatIp(ip)) === true, header: h };
  }
  const list = typeof value === "string" ? value.split(",").map((s) => s.trim()) : value;
  if (!Array.isArray(list)) {
    throw new FloodgateTypeError(
      "ERR_INVALID_OPTION",
      `floodgate: ${where}({ trustProxy }) must be false, a hop count, a list of CIDRs or a function, got ${describe(value)}.`,
    );
  }
  const nets = compileCidrs(`${where}({ trustProxy })`, list);
  return { hops: 0, isProxy: (ip) => matchAny(ip, nets), header: h };
}

/** compileCidrs parses a list of CIDRs and presets, throwing on the first bad entry. */
export function compileCidrs(where: string, list: readonly unknown[]): Cidr[] {
  const nets: Cidr[] = [];
  for (const entry of list) {
    if (typeof entry === "string" && PRESETS[entry] !== undefined) {
      for (const p of PRESETS[entry] as readonly string[]) nets.push(parseCidr(p) as Cidr);
      continue;
    }
    const net = typeof entry === "string" ? parseCidr(entry.trim()) : undefined;
    if (net === undefined) {
      throw new FloodgateTypeError(
        "ERR_INVALID_OPTION",
        `floodgate: ${where} has ${describe(entry)}, which is not an address, a CIDR or a preset; use entries such as "10.0.0.0/8", "2001:db8::/32", "loopback" or "private".`,
      );
    }
    nets.push(net);
  }
  return nets;
}

/** matchAny reports whether an address lies in any of the networks. */
export function matchAny(ip: Ip, nets: readonly Cidr[]): boolean {
  for (const n of nets) if (inCidr(ip, n)) return true;
  return false;
}

/**
 * resolveClient returns the client address: the socket peer when it is not a
 * trusted proxy (or no trust is configured), else the first untrusted address
 * of the forwarding header read right to left. The leftmost address, which any
 * client can write, is only reached when every address to its right is a
 * trusted proxy. Junk in the chain (an unparsable entry, `unknown`, an
 * obfuscated `_name`) stops the walk: the last good hop (a proxy) is used, so
 * junk never lets a client choose its key. At most MAX_HOPS entries and the
 * last MAX_HOPS commas are read, so any header is handled in linear time.
 */
export function resolveClient(peer: string | undefined, trust: Trust, header: string | undefined): Ip | undefined {
  const peerIp = peer === undefined ? undefined : parseIp(peer);
  if (peerIp === undefined) return undefined;
  if (header === undefined || header === "") return peerIp;
  const forwarded = trust.header === "forwarded";
  if (trust.hops > 0) {
    let last: Ip = peerIp;
    let end = header.length;
    for (let n = 1; n <= trust.hops && end > 0; n++) {
      const comma = header.lastIndexOf(",", end - 1);
      const ip = entryIp(header, comma + 1, end, forwarded);
      if (ip === undefined) return last;
      last = ip;
      end = comma < 0 ? 0 : comma;
    }
    return last;
  }
  const isProxy = trust.isProxy;
  if (isProxy === undefined || !isProxy(peerIp)) return peerIp;
  let last: Ip = peerIp;
  let end = header.length;
  for (let n = 0; n < MAX_HOPS && end > 0; n++) {
    const comma = header.lastIndexOf(",", end - 1);
    const ip = entryIp(header, comma + 1, end, forwarded);
    if (ip === undefined) return last;
    if (!isProxy(ip)) return ip;
    last = ip;
    end = comma < 0 ? 0 : comma;
  }
  return last;
}

/** entryIp parses one forwarding entry, header[start, end), or returns undefined for junk. */
function entryIp(header: string, start: number, end: number, forwarded: boolean): Ip | undefined {
  if (end - start > MAX_ENTRY_CHARS) return undefined;
  const entry = header.slice(start, end).trim();
  if (!forwarded) return parseIp(entry);
  // RFC 7239: pairs separated by ";", each token=value, value a token or a quoted string.
  for (const pair of entry.split(";")) {
    const eq = pair.indexOf("=");
    if (eq < 0) continue;
    if (pair.slice(0, eq).trim().toLowerCase() !== "for") continue;
    let value = pair.slice(eq + 1).trim();
    if (value.length >= 2 && value.charCodeAt(0) === 34 && value.charCodeAt(value.length - 1) === 34) {
      value = value.slice(1, -1);
      if (value.includes("\\")) return undefined;
    }
    return parseIp(value);
  }
  return undefined;
}
