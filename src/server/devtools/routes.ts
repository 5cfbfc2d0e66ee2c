/**
 * `/devtools`: a page to develop against — the live state of every machine, the virtual
 * pinpads' displays, and buttons to act as the cardholder (present a card, type the PIN,
 * press CANCEL, pull the cable) or inject link faults. Opt-in (`serve --devtools`); it only
 * ever drives virtual pinpads; every route passes the same Origin check as `/ws`, and the control
 * bodies are validated with JSON Schema (./schema.ts) before anything reaches a pinpad.
 */
import { readFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import type { FastifyInstance } from 'fastify'
import type { BridgeRuntime } from '../../bridge/runtime.js'
import { TEST_CARDS } from '../../simulator/cards.js'
import type { AccessPolicy } from '../security.js'
import type { DevtoolsHub } from './hub.js'
import { DEVTOOLS_PAGE } from './page.js'
import { originGuard, pinpads } from './pinpad-control.js'
import { systemClock, type Clock } from '../../clock.js'

export interface DevtoolsDeps {
  hub: DevtoolsHub
  runtime: () => BridgeRuntime | undefined
  policy: AccessPolicy
  /** The clock of the event stream's pinpad refresh (default: the real one). */
  clock?: Clock
}

const VISUALIZATIONS = fileURLToPath(new URL('../../../visualizations/', import.meta.url))

export function registerDevtools(app: FastifyInstance, deps: DevtoolsDeps): void {
  // The Origin check on every devtools route: the stream and the state are no business of another
  // site's page either. The pinpad controls (POST /devtools/pinpads/:id) are registered by
  // ./pinpad-control.ts, also for the demo page.
  const onRequest = originGuard(deps.policy)

  app.get('/devtools', { onRequest }, async (_req, reply) =>
    reply
      .type('text/html; charset=utf-8')
      // Its buttons act on the pinpads: no other site may frame it and have them clicked.
      .header('content-security-policy', "frame-ancestors 'none'")
      .header('x-frame-options', 'DENY')
      .send(DEVTOOLS_PAGE),
  )

  app.get('/devtools/state', { onRequest }, async () => ({
    actors: deps.hub.actors(),
    pinpads: pinpads(deps.runtime()),
    cards: TEST_CARDS.map((c) => ({ name: c.name, description: c.description })),
  }))

  // Server-sent events: every machine update as it happens.
  app.get('/devtools/events', { onRequest }, (req, reply) => {
    reply.raw.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive' })
    const send = (data: unknown) => reply.raw.write(`data: ${JSON.stringify(data)}\n\n`)
    const onUpdate = (view: unknown) => send({ type: 'actor', view })
    deps.hub.on('update', onUpdate)
    const clock = deps.clock ?? systemClock
    const timer = clock.setInterval(() => send({ type: 'pinpads', pinpads: pinpads(deps.runtime()) }), 500)
    req.raw.on('close', () => {
      deps.hub.off('update', onUpdate)
      clock.clearInterval(timer)
    })
  })

  app.get('/devtools/diagrams/:name', { onRequest }, async (req, reply) => {
    const name = (req.params as { name: string }).name
    if (!/^[a-z]+\.svg$/.test(name)) return reply.code(404).send()
    try {
      return reply.type('image/svg+xml').send(await readFile(`${VISUALIZATIONS}${name}`))
    } catch {
      return reply.code(404).send()
    }
  })
}
