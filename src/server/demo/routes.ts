/**
 * `GET /`: the demo POS page (./page.ts), served with the virtual pinpad unless `serve --no-demo`.
 * Its Content-Security-Policy lets only its own script (by hash) and this server's modules run,
 * connects only back to this server, and forbids framing: the page's buttons act on a pinpad.
 */
import { createHash } from 'node:crypto'
import type { FastifyInstance } from 'fastify'
import type { AccessPolicy } from '../security.js'
import { originGuard } from '../devtools/pinpad-control.js'
import { DEMO_PAGE, DEMO_SCRIPT } from './page.js'

const SCRIPT_HASH = `'sha256-${createHash('sha256').update(DEMO_SCRIPT).digest('base64')}'`

export function registerDemo(app: FastifyInstance, policy: AccessPolicy): void {
  app.get('/', { onRequest: originGuard(policy) }, async (req, reply) => {
    // The Host was checked (a loopback name) before any route: the WebSocket goes back to it.
    const host = req.headers.host!
    const csp = [
      "default-src 'none'",
      `script-src 'self' ${SCRIPT_HASH}`,
      `connect-src 'self' ws://${host} wss://${host}`,
      "style-src 'unsafe-inline'",
      "img-src 'self' data:",
      "base-uri 'none'",
      "form-action 'none'",
      "frame-ancestors 'none'",
    ].join('; ')
    return reply
      .type('text/html; charset=utf-8')
      .header('content-security-policy', csp)
      .header('x-frame-options', 'DENY')
      .header('x-content-type-options', 'nosniff')
      .header('referrer-policy', 'no-referrer')
      .header('cache-control', 'no-store')
      .send(DEMO_PAGE)
  })
}
