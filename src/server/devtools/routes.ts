/**
 * `/devtools`: a page to develop against — the live inspector (every machine actor drawn as its
 * diagram with its current state highlighted, the event log), the virtual pinpads' displays, and
 * buttons to act as the cardholder (present a card, type the PIN, press CANCEL, pull the cable)
 * or inject link faults. The page is static files (web/devtools/). Opt-in (`serve --devtools`); it only
 * ever drives virtual pinpads; every route passes the same Origin check as `/ws`, and the control
 * bodies are validated with JSON Schema (./schema.ts) before anything reaches a pinpad.
 */
import { readFile } from 'node:fs/promises'
import type { FastifyInstance } from 'fastify'
import type { RuntimeBase as BridgeRuntime } from '../../bridge/runtime-base.js'
import { TEST_CARDS } from '../../simulator/cards.js'
import type { AccessPolicy } from '../security.js'
import type { DevtoolsHub } from './hub.js'
import { packagePath } from '../files.js'
import { originGuard, pinpads } from './pinpad-control.js'
import { systemClock, type Clock } from '../../clock.js'

export interface DevtoolsDeps {
  hub: DevtoolsHub
  runtime: () => BridgeRuntime | undefined
  policy: AccessPolicy
  /** The clock of the event stream's pinpad refresh (default: the real one). */
  clock?: Clock
}

/** Not resolved from this file: the compiled build (dist/src/…) must find them too. */
const VISUALIZATIONS = packagePath('visualizations')
const ASSETS = packagePath('web', 'devtools')
const ASSET_TYPES: Record<string, string> = { js: 'text/javascript; charset=utf-8', css: 'text/css; charset=utf-8' }

/**
 * The page loads only its own files: no inline script, no other origin (it works offline); no
 * other site may frame it (its buttons act on the pinpads).
 */
export const DEVTOOLS_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ')

export function registerDevtools(app: FastifyInstance, deps: DevtoolsDeps): void {
  // The Origin check on every devtools route: the stream and the state are no business of another
  // site's page either. The pinpad controls (POST /devtools/pinpads/:id) are registered by
  // ./pinpad-control.ts, also for the demo page.
  const onRequest = originGuard(deps.policy)

  app.get('/devtools', { onRequest }, async (_req, reply) =>
    reply
      .type('text/html; charset=utf-8')
      .header('content-security-policy', DEVTOOLS_CSP)
      .header('x-frame-options', 'DENY')
      .send(await readFile(`${ASSETS}/index.html`)),
  )

  app.get('/devtools/assets/:name', { onRequest }, async (req, reply) => {
    const name = (req.params as { name: string }).name
    const m = /^[a-z-]+\.(js|css)$/.exec(name)
    if (!m) return reply.code(404).send()
    try {
      return reply.type(ASSET_TYPES[m[1]!]!).header('cache-control', 'no-cache').send(await readFile(`${ASSETS}/${name}`))
    } catch {
      return reply.code(404).send()
    }
  })

  app.get('/devtools/state', { onRequest }, async () => ({
    actors: deps.hub.actors(),
    log: deps.hub.log(),
    pinpads: pinpads(deps.runtime()),
    cards: TEST_CARDS.map((c) => ({ name: c.name, description: c.description })),
  }))

  // Server-sent events: first everything known, then every machine update and event as it happens.
  app.get('/devtools/events', { onRequest }, (req, reply) => {
    reply.raw.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive' })
    const send = (data: unknown) => reply.raw.write(`data: ${JSON.stringify(data)}\n\n`)
    const onUpdate = (view: unknown) => send({ type: 'actor', view })
    const onLog = (entry: unknown) => send({ type: 'log', entry })
    const onGone = (actor: string) => send({ type: 'gone', actor })
    send({ type: 'init', actors: deps.hub.actors(), log: deps.hub.log(), pinpads: pinpads(deps.runtime()) })
    deps.hub.on('update', onUpdate)
    deps.hub.on('log', onLog)
    deps.hub.on('gone', onGone)
    const clock = deps.clock ?? systemClock
    const timer = clock.setInterval(() => {
      deps.hub.prune()
      send({ type: 'pinpads', pinpads: pinpads(deps.runtime()) })
    }, 500)
    req.raw.on('close', () => {
      deps.hub.off('update', onUpdate)
      deps.hub.off('log', onLog)
      deps.hub.off('gone', onGone)
      clock.clearInterval(timer)
    })
  })

  app.get('/devtools/diagrams/:name', { onRequest }, async (req, reply) => {
    const name = (req.params as { name: string }).name
    if (!/^[a-z]+\.svg$/.test(name)) return reply.code(404).send()
    try {
      return reply.type('image/svg+xml').send(await readFile(`${VISUALIZATIONS}/${name}`))
    } catch {
      return reply.code(404).send()
    }
  })
}
