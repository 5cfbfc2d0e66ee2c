/**
 * Who may talk to the bridge. Browsers apply neither the same-origin policy nor CORS to
 * WebSocket handshakes, so any page the cashier opens could reach ws://127.0.0.1 (peers.md):
 * the Origin of every handshake is checked against an allowlist (RFC 6455 §10.2), and the Host
 * header against loopback names so a DNS-rebinding page cannot pose as localhost.
 */

/** Local pages, any port: what a POS page served from the till itself uses. */
export const DEFAULT_ALLOWED_ORIGINS = [
  'http://localhost:*',
  'https://localhost:*',
  'http://127.0.0.1:*',
  'https://127.0.0.1:*',
  'http://[::1]:*',
  'https://[::1]:*',
]

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]', '::1'])

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
  const name = host.replace(/:\d+$/, '').toLowerCase()
  if (LOOPBACK_HOSTS.has(name) || policy.extraHosts?.some((h) => h.toLowerCase() === name)) return { ok: true }
  return { ok: false, reason: `host ${JSON.stringify(host).slice(0, 100)} is not a loopback name` }
}
