/**
 * The bridge as a Fastify server: `/ws` (the JSON protocol, one session actor per connection),
 * HTTP probes, metrics, and the embedded sandbox acquirer.
 */
import Fastify, { LogController, type FastifyInstance } from 'fastify'
import websocket from '@fastify/websocket'
import type { WebSocket } from 'ws'
import { BridgeRuntime, type RuntimeOptions } from '../bridge/runtime.js'
import { sandboxAcquirer } from '../acquirer/sandbox/index.js'
import type { Logger } from '../log.js'
import { checkHost, checkOrigin, DEFAULT_ALLOWED_ORIGINS, type AccessPolicy } from './security.js'
import { BridgeMetrics } from './metrics.js'
import { registerProbes } from './probes.js'
import { DEFAULT_CONNECTION_LIMITS, serveConnection, type ConnectionLimits } from './connection.js'
import type { DevtoolsHub } from './devtools/hub.js'
import { ForbiddenHostError, ForbiddenOriginError } from '../errors.js'
import { httpRefusal } from './wire.js'
import { Journal } from '../journal/store.js'
import { JournalGate } from './journal-gate.js'

/** Opens the journal's session: what was running when the bridge last stopped is interrupted, what awaits a finish is said. */
function startJournal(journal: Journal, log: Logger): JournalGate {
  const interrupted = journal.interruptRunning()
  if (interrupted) log.warn({ interrupted }, 'commands that were running when the bridge last stopped are marked interrupted')
  prune(journal, log)
  const gate = new JournalGate(journal, log.child({ component: 'journal' }))
  const pending = gate.awaitingFinish()
  if (pending.length) log.warn({ awaiting_finish: pending }, 'payments with a card hash await their finish_payment: finish or reverse them with the acquirer')
  return gate
}

function prune(journal: Journal, log: Logger): void {
  try {
    const { redacted, deleted } = journal.prune()
    if (redacted || deleted) log.info({ redacted, deleted }, 'journal pruned')
  } catch (err) {
    log.error({ err: { message: (err as Error).message } }, 'the journal could not be pruned')
  }
}
import { systemClock, type Clock } from '../clock.js'

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
  /** Per-connection limits: message size, unread answers, message rate (defaults in connection.ts). */
  limits?: Partial<ConnectionLimits>
  version?: string
  /** Serve /devtools: live machines and virtual-pinpad controls (development). */
  devtools?: boolean
  /** Days the journal keeps its entries (default 7). */
  journalRetentionDays?: number
  /** The journal's clock (tests move it to see card hashes removed and entries pruned). */
  now?: () => number
  /**
   * The clock of the whole bridge (src/clock.ts): the runtime's (unless `runtime.clock` says
   * otherwise), the rate limiter's, the command durations', the probes' (default: the real one).
   */
  clock?: Clock
}

export const WS_SUBPROTOCOL = 'mpos-bridge'
const HARD_MAX_PAYLOAD = 1024 * 1024

export interface BridgeServer {
  app: FastifyInstance
  runtime: BridgeRuntime
  /** The payment journal (src/journal/). */
  journal: Journal
  metrics: BridgeMetrics
  /** The address it listens on, once started. */
  url: string
  close(): Promise<void>
}

export async function createBridgeServer(options: ServerOptions): Promise<BridgeServer> {
  const log = options.logger
  const clock = options.clock ?? systemClock
  // First: a second bridge on the same data directory stops here, before it touches anything.
  const journal = Journal.open({
    dir: options.dataDir,
    now: options.now ?? clock.now,
    ...(options.journalRetentionDays !== undefined ? { retentionDays: options.journalRetentionDays } : {}),
  })
  const gate = startJournal(journal, log)
  const metrics = new BridgeMetrics()
  const policy: AccessPolicy = {
    allowedOrigins: [...DEFAULT_ALLOWED_ORIGINS, ...(options.allowedOrigins ?? [])],
    extraHosts: ['127.0.0.1', 'localhost'].includes(options.host) || options.host === '::1' ? [] : [options.host],
  }
  const limits: ConnectionLimits = { ...DEFAULT_CONNECTION_LIMITS, ...options.limits }
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
      return reply.code(403).send(httpRefusal(new ForbiddenHostError(host.reason)))
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
          return reply.code(403).send(httpRefusal(new ForbiddenOriginError(origin.reason)))
        }
      },
    },
    (socket) => {
      sockets.add(socket)
      socket.on('close', () => sockets.delete(socket))
      serveConnection(socket, { runtime: runtime!, metrics, log, limits, gate, clock })
    },
  )

  // Development only: loaded when asked for, not on every start.
  const hub: DevtoolsHub | undefined = options.devtools ? new (await import('./devtools/hub.js')).DevtoolsHub(clock) : undefined
  if (hub) (await import('./devtools/routes.js')).registerDevtools(app as unknown as FastifyInstance, { hub, runtime: () => runtime, policy, clock })

  registerProbes(app as unknown as FastifyInstance, {
    runtime: () => runtime,
    metrics,
    apiUrl: () => apiUrl,
    sandbox,
    version: options.version ?? '0.0.0',
    sessions: () => sockets.size,
    awaitingFinish: () => gate.awaitingFinish(),
    clock,
  })

  // A bridge that cannot listen lets go of the data directory at once (its lock).
  const address = await app.listen({ host: options.host, port: options.port }).catch(async (err: unknown) => {
    journal.close()
    await app.close().catch(() => {})
    throw err
  })
  const url = address.replace('0.0.0.0', '127.0.0.1')
  apiUrl = options.apiUrl ?? `${url}/sandbox/1`
  runtime = new BridgeRuntime({
    dataDir: options.dataDir,
    apiUrl,
    virtualPinpads: options.simulator ? 1 : 0,
    serialPaths: options.serialPaths ?? [],
    discovery: options.discovery ?? true,
    logger: log.child({ component: 'bridge' }),
    clock,
    ...(hub ? { inspect: (e) => hub.record(e) } : {}),
    onAnswer: (envelope, reply) => gate.onAnswer(envelope, reply),
    onLinkTrace: (_device, trace) => {
      if (trace.type === 'nak' || trace.type === 'bad-response' || trace.type === 'stale') metrics.linkErrors.inc({ kind: trace.type })
    },
    ...options.runtime,
  })
  await runtime.start()
  runtime.registry.on('removed', () => metrics.linkErrors.inc({ kind: 'device-removed' }))
  log.info({ url, apiUrl: sandbox ? `${apiUrl} (embedded sandbox)` : apiUrl, devices: runtime.devices().length }, 'mpos-bridge listening')

  // Card hashes 24 h after their finish, entries after the retention period: at start and hourly.
  // The cadence is real time: an hourly timer on a test's auto-advancing clock would always be the
  // next thing to jump to. What gets pruned is judged on the bridge's clock (the journal's `now`).
  const pruning = setInterval(() => prune(journal, log), 3600_000)
  pruning.unref()

  let closing: Promise<void> | undefined
  return {
    app: app as unknown as FastifyInstance,
    runtime,
    journal,
    metrics,
    url,
    close: () =>
      (closing ??= (async () => {
        // Pinpads first (payments cancelled, CLO) while clients still get their answers, then sockets (1001).
        await runtime.shutdown()
        await app.close()
        clearInterval(pruning)
        journal.close()
      })()),
  }
}
