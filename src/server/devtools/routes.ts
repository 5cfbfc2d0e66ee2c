/**
 * `/devtools`: a page to develop against — the live state of every machine, the virtual
 * pinpads' displays, and buttons to act as the cardholder (present a card, type the PIN,
 * press CANCEL, pull the cable) or inject link faults. Opt-in (`serve --devtools`); it only
 * ever drives virtual pinpads, and its POSTs pass the same Origin check as `/ws`.
 */
import { readFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import type { FastifyInstance } from 'fastify'
import type { BridgeRuntime } from '../../bridge/runtime.js'
import { TEST_CARDS } from '../../simulator/cards.js'
import { checkOrigin, type AccessPolicy } from '../security.js'
import type { DevtoolsHub } from './hub.js'
import { DEVTOOLS_PAGE } from './page.js'

export interface DevtoolsDeps {
  hub: DevtoolsHub
  runtime: () => BridgeRuntime | undefined
  policy: AccessPolicy
}

const VISUALIZATIONS = fileURLToPath(new URL('../../../visualizations/', import.meta.url))

type Action =
  | { action: 'present'; card: string; how?: 'insert' | 'swipe' | 'tap' }
  | { action: 'pin'; pin: string }
  | { action: 'key'; key: 'ok' | 'cancel' | 'clear' }
  | { action: 'remove' }
  | { action: 'unplug' }
  | { action: 'plug' }
  | { action: 'fault'; fault: 'stalled' | 'nakNext' | 'corruptNext' | 'dropNext' | 'responseDelayMs' | 'garbageNext'; value: number | boolean }

export function registerDevtools(app: FastifyInstance, deps: DevtoolsDeps): void {
  app.get('/devtools', async (_req, reply) => reply.type('text/html; charset=utf-8').send(DEVTOOLS_PAGE))

  app.get('/devtools/state', async () => ({
    actors: deps.hub.actors(),
    pinpads: pinpads(deps.runtime()),
    cards: TEST_CARDS.map((c) => ({ name: c.name, description: c.description })),
  }))

  // Server-sent events: every machine update as it happens.
  app.get('/devtools/events', (req, reply) => {
    reply.raw.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive' })
    const send = (data: unknown) => reply.raw.write(`data: ${JSON.stringify(data)}\n\n`)
    const onUpdate = (view: unknown) => send({ type: 'actor', view })
    deps.hub.on('update', onUpdate)
    const timer = setInterval(() => send({ type: 'pinpads', pinpads: pinpads(deps.runtime()) }), 500)
    req.raw.on('close', () => {
      deps.hub.off('update', onUpdate)
      clearInterval(timer)
    })
  })

  app.get('/devtools/diagrams/:name', async (req, reply) => {
    const name = (req.params as { name: string }).name
    if (!/^[a-z]+\.svg$/.test(name)) return reply.code(404).send()
    try {
      return reply.type('image/svg+xml').send(await readFile(`${VISUALIZATIONS}${name}`))
    } catch {
      return reply.code(404).send()
    }
  })

  app.post('/devtools/pinpads/:id', async (req, reply) => {
    const origin = checkOrigin(req.headers.origin, deps.policy)
    if (!origin.ok) return reply.code(403).send({ error: origin.reason })
    const rt = deps.runtime()
    const id = Number((req.params as { id: string }).id)
    const device = rt?.registry.virtualDevice(id) ?? rt?.virtualDeviceById(id)
    if (!device) return reply.code(404).send({ error: `no virtual pinpad ${id}` })
    const body = req.body as Action
    const pad = device.pinpad
    switch (body?.action) {
      case 'present':
        if (!TEST_CARDS.some((c) => c.name === body.card)) return reply.code(400).send({ error: `unknown card ${body.card}` })
        pad.cardholder.present(body.card, body.how)
        break
      case 'pin':
        if (!/^\d{4,12}$/.test(body.pin)) return reply.code(400).send({ error: 'a PIN is 4 to 12 digits' })
        pad.cardholder.typePin(body.pin)
        break
      case 'key':
        pad.cardholder.press(body.key)
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
        ;(pad.faults as unknown as Record<string, number | boolean>)[body.fault] = body.value
        break
      default:
        return reply.code(400).send({ error: 'unknown action' })
    }
    return { ok: true }
  })
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
