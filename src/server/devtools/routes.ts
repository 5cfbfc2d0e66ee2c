/**
 * `/devtools`: a page to develop against — the live state of every machine, the virtual
 * pinpads' displays, and buttons to act as the cardholder (present a card, type the PIN,
 * press CANCEL, pull the cable) or inject link faults. Opt-in (`serve --devtools`); it only
 * ever drives virtual pinpads; every route passes the same Origin check as `/ws`, and the control
 * bodies are validated with JSON Schema (./schema.ts) before anything reaches a pinpad.
 */
import { readFile } from 'node:fs/promises'
import type { ErrorObject } from 'ajv'
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { BridgeRuntime } from '../../bridge/runtime.js'
import { TEST_CARDS } from '../../simulator/cards.js'
import type { LinkFaults } from '../../simulator/pinpad-link.js'
import { checkOrigin, type AccessPolicy } from '../security.js'
import type { DevtoolsHub } from './hub.js'
import { DEVTOOLS_PAGE } from './page.js'
import { ACTION_SCHEMA, compileDevtoolsSchema, describeDevtoolsError, PARAMS_SCHEMA, type DevtoolsAction } from './schema.js'
import { DevtoolsInvalidError, NoVirtualPinpadError, ForbiddenOriginError } from '../../errors.js'
import { httpRefusal } from '../wire.js'
import { systemClock, type Clock } from '../../clock.js'
import { packagePath } from '../../package-root.js'

export interface DevtoolsDeps {
  hub: DevtoolsHub
  runtime: () => BridgeRuntime | undefined
  policy: AccessPolicy
  /** The clock of the event stream's pinpad refresh (default: the real one). */
  clock?: Clock
}

// From the package root: the same folder whether this runs from src/ or from dist/src/.
const VISUALIZATIONS = `${packagePath('visualizations')}/`

/** Bodies are a few dozen bytes; anything much larger is not a control request. */
const BODY_LIMIT = 4096

export function registerDevtools(app: FastifyInstance, deps: DevtoolsDeps): void {
  // The Origin check runs onRequest: before the body is parsed or validated, so a hostile page
  // gets 403 whatever it sends, never a 400 describing the API. On every devtools route: the
  // stream and the state are no business of another site's page either.
  const onRequest = async (req: FastifyRequest, reply: FastifyReply) => {
    const origin = checkOrigin(req.headers.origin, deps.policy)
    if (!origin.ok) {
      req.log.warn({ origin: req.headers.origin, url: req.url }, 'refused: origin')
      return reply.code(403).send(httpRefusal(new ForbiddenOriginError(origin.reason)))
    }
  }

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

  app.post<{ Params: { id: string }; Body: DevtoolsAction }>(
    '/devtools/pinpads/:id',
    {
      onRequest,
      bodyLimit: BODY_LIMIT,
      // Validated by Fastify (after onRequest) with the devtools' own ajv: see ./schema.ts.
      schema: { params: PARAMS_SCHEMA, body: ACTION_SCHEMA },
      validatorCompiler: compileDevtoolsSchema,
      schemaErrorFormatter: (errors, dataVar) =>
        new DevtoolsInvalidError(describeDevtoolsError(errors as unknown as ErrorObject[], dataVar)),
      // Refused bodies (schema, unparsable JSON, __proto__ keys, wrong media type, too large) answer
      // in the bridge's error shape with a stable code; anything else goes to Fastify's handler.
      errorHandler: (error: FastifyError, _req, reply) => {
        const status = error.statusCode ?? 500
        if (status >= 500) throw error
        return reply.code(status).send(httpRefusal(new DevtoolsInvalidError(error.message)))
      },
    },
    async (req, reply) => {
      const rt = deps.runtime()
      const id = Number(req.params.id)
      const device = rt?.registry.virtualDevice(id) ?? rt?.virtualDeviceById(id)
      if (!device) return reply.code(404).send(httpRefusal(new NoVirtualPinpadError(id)))
      const body = req.body
      const pad = device.pinpad
      switch (body.action) {
        case 'present':
          pad.cardholder.present(body.card, body.how)
          break
        case 'pin':
          pad.cardholder.typePin(body.pin)
          break
        case 'key':
          pad.cardholder.press(body.key)
          break
        case 'choose':
          pad.cardholder.choose(body.option)
          break
        case 'enter':
          pad.cardholder.enter(body.data)
          break
        case 'remove':
          pad.cardholder.remove()
          break
        case 'unplug':
          device.unplug()
          break
        case 'plug':
          device.plug()
          break
        case 'fault':
          setFault(pad.faults, body.fault, body.value)
          break
      }
      return { ok: true }
    },
  )
}

/** The schema matched `value` to `fault` (a boolean for stalled, a bounded count otherwise). */
function setFault<K extends keyof LinkFaults>(faults: LinkFaults, fault: K, value: LinkFaults[K]): void {
  faults[fault] = value
}

function pinpads(rt: BridgeRuntime | undefined) {
  if (!rt) return []
  return rt.virtualDevices().map(({ id, device }) => ({
    id,
    present: device.present,
    display: device.pinpad.display.screen,
    inserted: device.pinpad.cardholder.inserted ?? null,
    faults: { ...device.pinpad.faults },
    tables: device.pinpad.tables.version(0),
  }))
}
