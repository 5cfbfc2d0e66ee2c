/**
 * Who may talk to the bridge. Browsers apply neither the same-origin policy nor CORS to
 * WebSocket handshakes, so any page the cashier opens could reach ws://127.0.0.1 (peers.md):
 * the Origin of every handshake is checked against an allowlist (RFC 6455 §10.2), and the Host
 * header against loopback names so a DNS-rebinding page cannot pose as localhost.
 */
import { isIPv6 } from 'node:net'

/** Local pages, any port: what a POS page served from the till itself uses. */
export const DEFAULT_ALLOWED_ORIGINS = [
  'http://localhost:*',
  'https://localhost:*',
  'http://127.0.0.1:*',
  'https://127.0.0.1:*',
  'http://[::1]:*',
  'https://[::1]:*',
]

/**
 * Loopback hosts in their canonical form (see {@link parseHost}): IPv6 literals compressed, in
 * brackets. `[::ffff:7f00:1]` is 127.0.0.1 mapped into IPv6 (RFC 4291 §2.5.5.2), the very same
 * address; other IPv4-mapped addresses, the rest of 127/8 and the deprecated IPv4-compatible
 * `[::127.0.0.1]` (not loopback at all) stay refused.
 */
const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]', '[::ffff:7f00:1]'])

/**
 * An allowlist entry: an exact origin ("https://pos.example.com"), one with any port
 * ("http://localhost:*") or with a subdomain wildcard ("https://*.example.com").
 */
export function originMatches(origin: string, pattern: string): boolean {
  let o: URL
  try {
    o = new URL(origin)
  } catch {
    return false
  }
  if (o.origin === 'null') return false
  const anyPort = pattern.endsWith(':*')
  const base = anyPort ? pattern.slice(0, -2) : pattern
  const m = /^(https?):\/\/(\*\.)?([^/:]+|\[[^\]]+\])(?::(\d+))?$/i.exec(base)
  if (!m) return false
  const [, scheme, wildcard, host, port] = m
  if (`${o.protocol}` !== `${scheme!.toLowerCase()}:`) return false
  const hostname = o.hostname.toLowerCase()
  const wanted = host!.toLowerCase()
  if (wildcard ? !hostname.endsWith(`.${wanted}`) : hostname !== wanted) return false
  if (anyPort) return true
  const defaultPort = o.protocol === 'https:' ? '443' : '80'
  return (o.port || defaultPort) === (port ?? defaultPort)
}

export interface AccessPolicy {
  allowedOrigins: string[]
  /** Host names accepted besides loopback ones (when bound to another address on purpose). */
  extraHosts?: string[]
}

export type AccessDecision = { ok: true } | { ok: false; reason: string }

/** A request without Origin comes from a non-browser client (curl, a POS back end): allowed. */
export function checkOrigin(origin: string | undefined, policy: AccessPolicy): AccessDecision {
  if (origin === undefined) return { ok: true }
  if (policy.allowedOrigins.some((p) => originMatches(origin, p))) return { ok: true }
  return { ok: false, reason: `origin ${JSON.stringify(origin).slice(0, 100)} is not allowed` }
}

export function checkHost(host: string | undefined, policy: AccessPolicy): AccessDecision {
  if (!host) return { ok: false, reason: 'missing Host header' }
  const parsed = parseHost(host)
  if (parsed && (LOOPBACK_HOSTS.has(parsed.host) || policy.extraHosts?.some((h) => parseHost(h)?.host === parsed.host))) return { ok: true }
  return { ok: false, reason: `host ${JSON.stringify(host).slice(0, 100)} is not a loopback name` }
}

/** RFC 3986 §3.2.2 reg-name (unreserved, pct-encoded, sub-delims); IPv4 addresses match it too. */
const REG_NAME = /^(?:[a-z0-9\-._~!$&'()*+,;=]|%[0-9a-f]{2})+$/i

/**
 * A Host header (RFC 7230 §5.4: `uri-host [ ":" port ]`, RFC 3986 §3.2.2: `IP-literal` in brackets
 * or a name) as its canonical host — a lowercase name, or an IPv6 literal compressed and in
 * brackets (`[0:0:0:0:0:0:0:1]` → `[::1]`) — and its port; undefined when it is not one.
 * A bare IPv6 address (`::1`, not valid in a Host but sent by some clients) is taken whole: it
 * cannot carry a port, `::1:2000` being another address. IPvFuture and zone ids are refused.
 */
export function parseHost(header: string): { host: string; port?: string } | undefined {
  let host: string
  let rest: string
  if (header.startsWith('[')) {
    const end = header.indexOf(']')
    if (end < 0) return undefined
    const ipv6 = canonicalIPv6(header.slice(1, end))
    if (!ipv6) return undefined
    host = ipv6
    rest = header.slice(end + 1)
  } else if (header.indexOf(':') !== header.lastIndexOf(':')) {
    const ipv6 = canonicalIPv6(header)
    return ipv6 ? { host: ipv6 } : undefined
  } else {
    const colon = header.indexOf(':')
    host = colon < 0 ? header : header.slice(0, colon)
    rest = colon < 0 ? '' : header.slice(colon)
    if (!REG_NAME.test(host)) return undefined
    host = host.toLowerCase()
  }
  if (rest === '') return { host }
  // port = *DIGIT: "localhost:" is a Host without a port.
  const port = /^:(\d*)$/.exec(rest)
  if (!port) return undefined
  return port[1] ? { host, port: port[1] } : { host }
}

/** `[…]` with the address in its canonical text (RFC 5952, WHATWG URL), or undefined. */
function canonicalIPv6(text: string): string | undefined {
  if (!isIPv6(text)) return undefined
  try {
    return new URL(`http://[${text}]/`).hostname // rejects zone ids ("fe80::1%eth0")
  } catch {
    return undefined
  }
}
