/**
 * The virtual pinpads' control routes, shared by /devtools and the demo page (`/`): act as the
 * cardholder (present a test card, type the PIN, press a key, remove the card), pull and plug the
 * cable, inject link faults, and see each pinpad's screen. Only ever virtual pinpads. Every route
 * passes the same Origin check as `/ws` (403 before the body is read), and control bodies are
 * validated with JSON Schema (./schema.ts) before anything reaches a pinpad. No machine state here:
 * the actors' snapshots and their stream stay behind `--devtools`.
 */
import type { ErrorObject } from 'ajv'
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { RuntimeBase as BridgeRuntime } from '../../bridge/runtime-base.js'
import { loadSimulator } from '../../bridge/virtual-pinpads.js'
import type { LinkFaults } from '../../simulator/pinpad-link.js'
import { checkOrigin, type AccessPolicy } from '../security.js'
import { ACTION_SCHEMA, compileDevtoolsSchema, describeDevtoolsError, PARAMS_SCHEMA, type DevtoolsAction } from './schema.js'
import { DevtoolsInvalidError, NoVirtualPinpadError, ForbiddenOriginError } from '../../errors.js'
import { httpRefusal } from '../wire.js'

export interface PinpadControlDeps {
  runtime: () => BridgeRuntime | undefined
  policy: AccessPolicy
}

/** Bodies are a few dozen bytes; anything much larger is not a control request. */
const BODY_LIMIT = 4096

/**
 * The Origin check, onRequest: before the body is parsed or validated, so a hostile page gets 403
 * whatever it sends, never a 400 describing the API.
 */
export const originGuard = (policy: AccessPolicy) => async (req: FastifyRequest, reply: FastifyReply) => {
  const origin = checkOrigin(req.headers.origin, policy)
  if (!origin.ok) {
    req.log.warn({ origin: req.headers.origin, url: req.url }, 'refused: origin')
    return reply.code(403).send(httpRefusal(new ForbiddenOriginError(origin.reason)))
  }
}

export function registerPinpadControl(app: FastifyInstance, deps: PinpadControlDeps): void {
  const onRequest = originGuard(deps.policy)

  // The pinpads are made (and the simulator loaded) by the first request that needs them, if not yet.
  app.get('/devtools/pinpads', { onRequest }, async (_req, reply) => {
    const rt = deps.runtime()
    await rt?.loadVirtualPinpads()
    const { TEST_CARDS } = await loadSimulator()
    return reply.header('cache-control', 'no-store').send({
      pinpads: pinpads(rt),
      cards: TEST_CARDS.map((c) => ({ name: c.name, description: c.description })),
    })
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
      const pad = await device.load()
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
        case 'auto': {
          const { DEFAULT_CARDHOLDER } = await loadSimulator()
          // The cardholder who presents visa-credit and types 1234 by themselves, or nobody (clicks only).
          pad.cardholder.options.autoCard = body.on ? DEFAULT_CARDHOLDER.autoCard : null
          pad.cardholder.options.autoPin = body.on ? DEFAULT_CARDHOLDER.autoPin : null
          break
        }
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

/** What a cardholder sees of each virtual pinpad: its screen, the card in its slot, its cable (once made: runtime.loadVirtualPinpads()). */
export function pinpads(rt: BridgeRuntime | undefined) {
  if (!rt) return []
  return rt.virtualDevices().map(({ id, device }) => ({
    id,
    present: device.present,
    display: device.pinpad.display.screen,
    inserted: device.pinpad.cardholder.inserted ?? null,
    auto: device.pinpad.cardholder.options.autoCard !== null,
    faults: { ...device.pinpad.faults },
    tables: device.pinpad.tables.version(0),
  }))
}
