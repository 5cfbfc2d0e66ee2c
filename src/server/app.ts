/**
 * The bridge as a Fastify server: `/ws` (the JSON protocol, one session actor per connection),
 * HTTP probes, metrics, and the embedded sandbox acquirer.
 */
import Fastify, { LogController, type FastifyInstance } from 'fastify'
import websocket from '@fastify/websocket'
import type { WebSocket } from 'ws'
import { BridgeRuntime, type RuntimeOptions } from '../bridge/runtime.js'
import { sandboxAcquirer } from '../acquirer/sandbox/index.js'
import type { Outgoing } from '../../machines/session.machine.js'
import type { Logger } from '../log.js'
import { parseMessage, type Parsed } from './validate.js'
import { validators } from './schema.js'
import { checkHost, checkOrigin, DEFAULT_ALLOWED_ORIGINS, type AccessPolicy } from './security.js'
import { BridgeMetrics } from './metrics.js'
import { registerProbes } from './probes.js'
import { toWire } from './wire.js'
import { DevtoolsHub } from './devtools/hub.js'
import { registerDevtools } from './devtools/routes.js'

export interface ServerOptions {
  host: string
  port: number
  dataDir: string
  /** Acquirer API base; undefined = the embedded sandbox at /sandbox/1 on this server. */
  apiUrl?: string
  allowedOrigins?: string[]
  serialPaths?: string[]
  simulator: boolean
  discovery?: boolean
  logger: Logger
  runtime?: Partial<RuntimeOptions>
  /** Messages above this get an error answer; the connection stays (`maxPayload` closes above 1 MiB). */
  maxMessageBytes?: number
  version?: string
  /** Serve /devtools: live machines and virtual-pinpad controls (development). */
  devtools?: boolean
}

export const WS_SUBPROTOCOL = 'mpos-bridge'
const HARD_MAX_PAYLOAD = 1024 * 1024

export interface BridgeServer {
  app: FastifyInstance
  runtime: BridgeRuntime
  metrics: BridgeMetrics
  /** The address it listens on, once started. */
  url: string
  close(): Promise<void>
}

export async function createBridgeServer(options: ServerOptions): Promise<BridgeServer> {
  const log = options.logger
  const metrics = new BridgeMetrics()
  const policy: AccessPolicy = {
    allowedOrigins: [...DEFAULT_ALLOWED_ORIGINS, ...(options.allowedOrigins ?? [])],
    extraHosts: ['127.0.0.1', 'localhost'].includes(options.host) || options.host === '::1' ? [] : [options.host],
  }
  const maxMessageBytes = options.maxMessageBytes ?? 64 * 1024
  // Through a LogController: the top-level disableRequestLogging prints a deprecation warning on
  // stderr, a non-JSON line among the JSON log lines.
  const app = Fastify({ loggerInstance: log.child({ component: 'http' }), logController: new LogController({ disableRequestLogging: true }) })
  const sockets = new Set<WebSocket>()

  await app.register(websocket, {
    options: {
      maxPayload: HARD_MAX_PAYLOAD,
      // The original browser client asks for "mpos-bridge"; clients without a subprotocol are welcome too.
      handleProtocols: (protocols) => (protocols.has(WS_SUBPROTOCOL) ? WS_SUBPROTOCOL : false),
    },
    // Shutdown closes the sockets itself (1001) after the pinpads are closed.
    preClose: async function () {
      for (const s of sockets) s.close(1001, 'mpos-bridge is shutting down')
    },
  })

  // DNS rebinding: a page whose name resolves to 127.0.0.1 still sends its own Host.
  app.addHook('onRequest', async (request, reply) => {
    const host = checkHost(request.headers.host, policy)
    if (!host.ok) {
      log.warn({ host: request.headers.host, url: request.url }, 'refused: host')
      return reply.code(403).send({ success: false, error: `Forbidden: ${host.reason}`, code: 'MPOS_ERR_FORBIDDEN_HOST' })
    }
  })

  const sandbox = options.apiUrl === undefined
  let runtime: BridgeRuntime | undefined
  let apiUrl = options.apiUrl ?? ''
  if (sandbox) await app.register(sandboxAcquirer, { prefix: '/sandbox/1', dataDir: options.dataDir })

  app.get(
    '/ws',
    {
      websocket: true,
      preValidation: async (request, reply) => {
        const origin = checkOrigin(request.headers.origin, policy)
        if (!origin.ok) {
          log.warn({ origin: request.headers.origin }, 'refused: origin')
          return reply.code(403).send({ success: false, error: `Forbidden: ${origin.reason}`, code: 'MPOS_ERR_FORBIDDEN_ORIGIN' })
        }
      },
    },
    (socket) => {
      const rt = runtime!
      sockets.add(socket)
      metrics.connections.inc()
      const started = new Map<string, { at: number; command: string }>()
      const send = (payload: unknown) => {
        if (socket.readyState === socket.OPEN) socket.send(JSON.stringify(payload))
      }
      const session = rt.openSession((message: Outgoing) => {
        if (message.kind === 'reply') observe(message, started, metrics, log, session.id)
        send(toWire(message))
      })
      log.info({ session: session.id }, 'connection opened')

      socket.on('message', (raw, isBinary) => {
        const text = isBinary ? '' : raw.toString()
        const parsed: Parsed = isBinary
          ? { ok: false, error: { code: 'MPOS_ERR_INVALID_MESSAGE', message: 'Binary messages are not accepted: send JSON text' } }
          : parseMessage(text, maxMessageBytes)
        if (!parsed.ok) {
          // Only known command names become labels: a client must not mint a time series per made-up name.
          metrics.commands.inc({ command: parsed.command !== undefined && Object.hasOwn(validators, parsed.command) ? parsed.command : 'invalid', outcome: 'invalid' })
          log.info({ session: session.id, code: parsed.error.code }, 'invalid message')
          send({
            ...(parsed.command !== undefined ? { command: parsed.command } : {}),
            ...(parsed.context !== undefined ? { context: parsed.context } : {}),
            ...(parsed.command_id !== undefined ? { command_id: parsed.command_id } : {}),
            success: false,
            error: parsed.error.message,
            code: parsed.error.code,
          })
          return
        }
        started.set(`${parsed.context}|${parsed.command_id ?? ''}|${parsed.request.command}`, { at: Date.now(), command: parsed.request.command })
        session.send(parsed.context, parsed.request, parsed.command_id)
      })
      socket.on('close', () => {
        sockets.delete(socket)
        metrics.connections.dec()
        session.close()
        log.info({ session: session.id }, 'connection closed')
      })
      socket.on('error', (err) => log.warn({ session: session.id, err: err.message }, 'socket error'))
    },
  )

  const hub = options.devtools ? new DevtoolsHub() : undefined
  if (hub) registerDevtools(app as unknown as FastifyInstance, { hub, runtime: () => runtime, policy })

  registerProbes(app as unknown as FastifyInstance, {
    runtime: () => runtime,
    metrics,
    apiUrl: () => apiUrl,
    sandbox,
    version: options.version ?? '0.0.0',
    sessions: () => sockets.size,
  })

  const address = await app.listen({ host: options.host, port: options.port })
  const url = address.replace('0.0.0.0', '127.0.0.1')
  apiUrl = options.apiUrl ?? `${url}/sandbox/1`
  runtime = new BridgeRuntime({
    dataDir: options.dataDir,
    apiUrl,
    virtualPinpads: options.simulator ? 1 : 0,
    serialPaths: options.serialPaths ?? [],
    discovery: options.discovery ?? true,
    logger: log.child({ component: 'bridge' }),
    ...(hub ? { inspect: (e) => hub.record(e) } : {}),
    onLinkTrace: (_device, trace) => {
      if (trace.type === 'nak' || trace.type === 'bad-response' || trace.type === 'stale') metrics.linkErrors.inc({ kind: trace.type })
    },
    ...options.runtime,
  })
  await runtime.start()
  runtime.registry.on('removed', () => metrics.linkErrors.inc({ kind: 'device-removed' }))
  log.info({ url, apiUrl: sandbox ? `${apiUrl} (embedded sandbox)` : apiUrl, devices: runtime.devices().length }, 'mpos-bridge listening')

  let closing: Promise<void> | undefined
  return {
    app: app as unknown as FastifyInstance,
    runtime,
    metrics,
    url,
    close: () =>
      (closing ??= (async () => {
        // Pinpads first (payments cancelled, CLO) while clients still get their answers, then sockets (1001).
        await runtime.shutdown()
        await app.close()
      })()),
  }
}

function observe(message: Extract<Outgoing, { kind: 'reply' }>, started: Map<string, { at: number; command: string }>, metrics: BridgeMetrics, log: Logger, session: string): void {
  const key = `${message.context}|${message.command_id ?? ''}|${message.command}`
  const start = started.get(key)
  started.delete(key)
  const durationMs = start ? Date.now() - start.at : undefined
  const payment = message.command === 'process_payment' && message.success ? (message.response as { status?: string } | undefined)?.status : undefined
  metrics.commands.inc({ command: message.command, outcome: message.success ? 'success' : 'error' })
  if (durationMs !== undefined) metrics.latency.observe({ command: message.command }, durationMs / 1000)
  if (payment) metrics.payments.inc({ status: payment })
  // One line per command: outcome and duration, never card data (no response body is logged).
  log.info(
    {
      session,
      command: message.command,
      context: message.context,
      command_id: message.command_id,
      success: message.success,
      ...(message.success ? {} : { code: message.error.code }),
      ...(payment ? { status: payment } : {}),
      duration_ms: durationMs,
    },
    'command',
  )
}
