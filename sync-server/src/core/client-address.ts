/**
 * The key under which per-address limits (request and upgrade buckets, the join budget, open sockets)
 * count a client: its network rather than its exact address.
 *
 * Invariants:
 * - IPv4: the address itself (a household or clinic behind one NAT address is one client, neighbours are
 *   not).
 * - IPv6: the /64 prefix. One host (a phone, a VM) is routinely handed a whole /64 and can take a new
 *   address from it for every request (privacy extensions do so on their own), so keying on the full
 *   address would give it an unbounded number of budgets. Every spelling of an address (leading zeros,
 *   `::` compression, upper case, an embedded dotted quad, a zone id) gives the same key.
 * - IPv4-mapped IPv6 (`::ffff:a.b.c.d`, how a dual-stack listener sees an IPv4 client, or a proxy passes
 *   one on) is that IPv4 address, so the same client has one budget whichever way it arrives, and the
 *   IPv4 clients of a dual-stack listener are not all one /64 (`::ffff:0:0/96` lies in `::/64`).
 * - The address is the client's as the configured trusted proxies tell it (`clientIp`: the same rule as
 *   Fastify's `request.ip` under `trustProxy`), worked out from the raw request, so a request Fastify refuses
 *   before routing (`frameworkErrors`, whose request object ignores `trustProxy`) is charged to its client,
 *   not to the proxy all clients share.
 * Failure modes: none. Anything that is not an IP address (Fastify always hands one over; a unix socket
 * has none) is its own key, unchanged.
 */
import type { IncomingMessage } from 'node:http';
import { isIPv4, isIPv6 } from 'node:net';
import proxyAddr from '@fastify/proxy-addr';

/** The eight 16-bit groups of a valid IPv6 address (no zone id), or null. */
const ipv6Groups = (address: string): number[] | null => {
  if (!isIPv6(address)) return null;
  const toGroups = (part: string): number[] | null => {
    if (part === '') return [];
    const out: number[] = [];
    for (const piece of part.split(':')) {
      if (piece.includes('.')) {
        if (!isIPv4(piece)) return null;
        const [a = 0, b = 0, c = 0, d = 0] = piece.split('.').map(Number);
        out.push((a << 8) | b, (c << 8) | d);
      } else {
        out.push(parseInt(piece, 16));
      }
    }
    return out;
  };
  const gap = address.indexOf('::');
  const head = toGroups(gap === -1 ? address : address.slice(0, gap));
  const tail = gap === -1 ? [] : toGroups(address.slice(gap + 2));
  if (head === null || tail === null) return null;
  const zeros = 8 - head.length - tail.length;
  if (zeros < 0 || (gap === -1 && zeros !== 0)) return null;
  return [...head, ...new Array<number>(zeros).fill(0), ...tail];
};

export const clientAddressKey = (ip: string): string => {
  const zone = ip.indexOf('%');
  const address = zone === -1 ? ip : ip.slice(0, zone);
  if (isIPv4(address)) return address;
  const groups = ipv6Groups(address);
  if (groups === null) return ip;
  const [g0, g1, g2, g3, g4, g5, g6 = 0, g7 = 0] = groups;
  if (g0 === 0 && g1 === 0 && g2 === 0 && g3 === 0 && g4 === 0 && g5 === 0xffff) {
    return `${g6 >> 8}.${g6 & 0xff}.${g7 >> 8}.${g7 & 0xff}`;
  }
  return `${[g0, g1, g2, g3].map((g = 0) => g.toString(16)).join(':')}::/64`;
};

/**
 * The client address of a raw request under `trustProxy` (false: the socket's peer; true: the first address
 * in X-Forwarded-For; a comma-separated list of addresses, subnets or proxy-addr's names: the nearest
 * address not trusted). The socket's peer of a request whose socket is already gone is unknown: ''.
 */
export const createClientIp = (trustProxy: boolean | string): ((raw: IncomingMessage) => string) => {
  const trust =
    typeof trustProxy === 'boolean'
      ? () => trustProxy
      : proxyAddr.compile(trustProxy.split(',').map((value) => value.trim()));
  return (raw) => {
    // proxy-addr's type says string, but it hands back the socket's remoteAddress, undefined once closed.
    const ip: string | undefined = proxyAddr(raw, trust);
    return ip ?? '';
  };
};
