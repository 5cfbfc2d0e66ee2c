/**
 * The bridge as a Fastify server: `/ws` (the JSON protocol, one session actor per connection),
 * HTTP probes, metrics, and the embedded sandbox acquirer.
 */
// First: the V8 flags must be set before the machines' code allocates (see gc-tuning.ts).
import '../gc-tuning.js'
import { createRequire } from 'node:module'
import Fastify, { LogController, type FastifyInstance, type FastifyServerOptions } from 'fastify'
import websocket from '@fastify/websocket'
import type { WebSocket } from 'ws'
import { RuntimeBase as BridgeRuntime, type RuntimeOptions } from '../bridge/runtime-base.js'
import { sandboxAcquirer } from '../acquirer/sandbox/index.js'
import { loadSandboxKey } from '../acquirer/sandbox/keys.js'
import type { Logger } from '../log.js'
import { checkHost, checkOrigin, DEFAULT_ALLOWED_ORIGINS, type AccessPolicy } from './security.js'
import { BridgeMetrics } from './metrics.js'
import { httpGetStatus, registerProbes } from './probes.js'
import { DEFAULT_CONNECTION_LIMITS, type ConnectionLimits } from './limits.js'
import type { DevtoolsHub } from './devtools/hub.js'
import { registerPinpadControl } from './devtools/pinpad-control.js'
import { registerClientScript } from './demo/client-script.js'
import { registerDemo } from './demo/routes.js'
import { ForbiddenHostError, ForbiddenOriginError, ShuttingDownError } from '../errors.js'
import { httpRefusal } from './wire.js'
import { Journal } from '../journal/store.js'
import { JournalGate } from './journal-gate.js'
import { PairingService } from './pairing/pairing.js'
import { PinpadCodeDisplay } from './pairing/display.js'
import { registerPairingAdmin, writeAdminSecret } from './pairing/admin.js'
import { systemClock, type Clock } from '../clock.js'
import type { createTlsServer, TlsOptions } from './tls-listener.js'
import type { Server as HttpsServer } from 'node:https'

// Fastify's own schema compilers, required from Fastify's place as it would, when a route first
// needs one: at construction they load ajv-formats and fast-json-stringify (with its ajv), a tenth
// of a start where every route that has a schema brings its own compiler (sandbox, devtools).
// None validates headers, the one thing a custom factory changes (their keys not lower-cased).
type CompilersFactory = NonNullable<NonNullable<FastifyServerOptions['schemaController']>['compilersFactory']>
type Build<K extends keyof CompilersFactory> = NonNullable<CompilersFactory[K]>

function lazyCompilers(): CompilersFactory {
  const fastifyRequire = createRequire(import.meta.resolve('fastify'))
  let validator: Build<'buildValidator'> | undefined
  let serializer: Build<'buildSerializer'> | undefined
  return {
    buildValidator: (...args) => (validator ??= (fastifyRequire('@fastify/ajv-compiler') as () => Build<'buildValidator'>)())(...args),
    buildSerializer: (...args) => (serializer ??= (fastifyRequire('@fastify/fast-json-stringify-compiler') as () => Build<'buildSerializer'>)())(...args),
  }
}

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
  /**
   * Serve the demo POS page at `/` and the virtual pinpads' controls it uses, when a virtual
   * pinpad is offered (`serve` turns it on unless `--no-demo`; off by default here).
   */
  demo?: boolean
  /**
   * Only paired pages may use the pinpads (README "Pairing"): until a connection has sent
   * `authenticate` (or `pair`) it may only list_devices, status, pair and authenticate.
   */
  requirePairing?: boolean
  /** Days the journal keeps its entries (default 7). */
  journalRetentionDays?: number
  /** The journal's clock (tests move it to see card hashes removed and entries pruned). */
  now?: () => number
  /**
   * The clock of the whole bridge (src/clock.ts): the runtime's (unless `runtime.clock` says
   * otherwise), the rate limiter's, the command durations', the probes' (default: the real one).
   */
  clock?: Clock
  /** https:// and wss:// beside the plain listener, or alone (src/server/tls-listener.ts). */
  tls?: TlsOptions
  /**
   * On close, how long a command already running (a payment waiting for its card…) may go on to
   * its own end before it is cancelled on the wire (default 0: cancelled at once). New work is refused meanwhile.
   */
  shutdownGraceMs?: number
}

export const WS_SUBPROTOCOL = 'mpos-bridge'
const HARD_MAX_PAYLOAD = 1024 * 1024

export interface BridgeServer {
  app: FastifyInstance
  runtime: BridgeRuntime
  /** The payment journal (src/journal/). */
  journal: Journal
  /** Pairing codes and tokens (src/server/pairing/). */
  pairing: PairingService
  metrics: BridgeMetrics
  /** The address it listens on, once started (https:// with `tls.only`). */
  url: string
  /** https://localhost:PORT when TLS is served beside the plain listener (or alone). */
  tlsUrl?: string
  /** Reads the TLS certificate and key again (after `mpos-bridge cert --renew`); the new expiry. */
  reloadTls(): Date | undefined
  close(): Promise<void>
}

export async function createBridgeServer(options: ServerOptions): Promise<BridgeServer> {
  const log = options.logger
  const clock = options.clock ?? systemClock
  // A missing or broken certificate stops the start before anything is opened.
  // node:https and node:tls (through tls-listener.js) only when TLS is served: it is off by default.
  const tls = options.tls ? await import('./tls-listener.js') : undefined
  const credentials = options.tls ? new tls!.TlsCredentials(options.tls) : undefined
  // First: a second bridge on the same data directory stops here, before it touches anything.
  const journal = Journal.open({
    dir: options.dataDir,
    now: options.now ?? clock.now,
    ...(options.journalRetentionDays !== undefined ? { retentionDays: options.journalRetentionDays } : {}),
  })
  // The sandbox's key (its plugin awaits the same load): read while the rest is set up.
  if (options.apiUrl === undefined) loadSandboxKey(options.dataDir).catch(() => {})
  const gate = startJournal(journal, log)
  const pairingLog = log.child({ component: 'pairing' })
  const pairing = new PairingService(journal.pairings, clock, pairingLog)
  // The admin route's secret (pairing/admin.ts): new at every start, 0600.
  const adminSecret = writeAdminSecret(options.dataDir)
  const metrics = new BridgeMetrics()
  const policy: AccessPolicy = {
    allowedOrigins: [...DEFAULT_ALLOWED_ORIGINS, ...(options.allowedOrigins ?? [])],
    extraHosts: ['127.0.0.1', 'localhost'].includes(options.host) || options.host === '::1' ? [] : [options.host],
  }
  const limits: ConnectionLimits = { ...DEFAULT_CONNECTION_LIMITS, ...options.limits }
  // Through a LogController: the top-level disableRequestLogging prints a deprecation warning on
  // stderr, a non-JSON line among the JSON log lines.
  const tlsOnly = credentials && options.tls?.only
  const app = Fastify({
    loggerInstance: log.child({ component: 'http' }),
    logController: new LogController({ disableRequestLogging: true }),
    schemaController: { compilersFactory: lazyCompilers() },
    ...(tlsOnly ? { serverFactory: (handler: Parameters<typeof createTlsServer>[1]) => tls!.createTlsServer(credentials, handler) } : {}),
  })
  let draining = false
  const sockets = new Set<WebSocket>()
  // With `loadOnFirstOpen` (serve), the connection code and the runtime's machines are loaded by
  // the first /ws upgrade, before it is accepted (its preValidation), not at start.
  const lazy = options.runtime?.loadOnFirstOpen === true && !options.devtools
  let connection: typeof import('./connection.js') | undefined = lazy ? undefined : await import('./connection.js')
  let loading: Promise<void> | undefined
  const loadConnection = () =>
    (loading ??= Promise.all([import('./connection.js'), runtime!.loadCore()]).then(([module]) => {
      connection = module
    }))

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
  // With TLS alone, the bridge reaches its embedded sandbox in-process (Fastify's inject) rather
  // than over a TLS connection to itself that would have to trust the local CA.
  const sandboxFetch = tlsOnly && sandbox ? (await import('./inject-fetch.js')).injectFetch(app as unknown as FastifyInstance) : undefined
  let runtime: BridgeRuntime | undefined
  let apiUrl = options.apiUrl ?? ''
  if (sandbox) await app.register(sandboxAcquirer, { prefix: '/sandbox/1', dataDir: options.dataDir })

  app.get(
    '/ws',
    {
      websocket: true,
      preValidation: async (request, reply) => {
        if (draining) return reply.code(503).send(httpRefusal(new ShuttingDownError()))
        const origin = checkOrigin(request.headers.origin, policy)
        if (!origin.ok) {
          log.warn({ origin: request.headers.origin }, 'refused: origin')
          return reply.code(403).send(httpRefusal(new ForbiddenOriginError(origin.reason)))
        }
        if (!connection) {
          await loadConnection()
          // Shutdown began while the connection code loaded: its preClose has closed the sockets it knew.
          if (draining) return reply.code(503).send(httpRefusal(new ShuttingDownError()))
        }
      },
    },
    (socket, request) => {
      // Upgraded after shutdown's preClose ran: it would hold the server open until the forced exit.
      if (draining) return socket.close(1001, 'mpos-bridge is shutting down')
      sockets.add(socket)
      socket.on('close', () => sockets.delete(socket))
      connection!.serveConnection(socket, {
        runtime: runtime!,
        metrics,
        log,
        limits,
        gate,
        clock,
        pairing: { service: pairing, required: options.requirePairing === true },
        ...(request.headers.origin !== undefined ? { origin: request.headers.origin } : {}),
        draining: () => draining,
      })
    },
  )

  const display = new PinpadCodeDisplay(() => runtime, clock, pairingLog)
  pairing.onCodeEnded = () => void display.clear()
  registerPairingAdmin(app as unknown as FastifyInstance, { service: pairing, display, secret: adminSecret, log: pairingLog })

  // The browser client, for any allowed page to import.
  registerClientScript(app as unknown as FastifyInstance, policy)
  // Development only: loaded when asked for, not on every start. An actor is live while the
  // bridge's actor system knows its systemId.
  const hub: DevtoolsHub | undefined = options.devtools
    ? new (await import('./devtools/hub.js')).DevtoolsHub(clock, (actor) => runtime?.root.system.get(actor) !== undefined)
    : undefined
  if (hub) (await import('./devtools/routes.js')).registerDevtools(app as unknown as FastifyInstance, { hub, runtime: () => runtime, policy, clock })
  // The demo authorizes with the embedded sandbox (its test key, /sandbox/1/transactions): with
  // --api-url there is no acquirer it could authorize with, so it is not offered.
  const demo = options.demo === true && options.simulator && sandbox
  if (options.demo === true && options.simulator && !sandbox) log.info('the demo page is not served: it authorizes with the embedded sandbox acquirer, and --api-url names another')
  // The pinpad controls without the machines' state: the demo page needs the first, not the second.
  if (hub || demo) registerPinpadControl(app as unknown as FastifyInstance, { runtime: () => runtime, policy })
  if (demo) registerDemo(app as unknown as FastifyInstance, policy)

  // The /ws protocol as an AsyncAPI 3.0 document: the same text as docs/asyncapi.json (npm run asyncapi).
  let asyncApi: string | undefined
  // Its module is loaded on the first request for it: nothing else needs it.
  app.get('/asyncapi.json', async (_req, reply) => reply.type('application/json; charset=utf-8').send((asyncApi ??= (await import('./asyncapi/document.js')).asyncApiText())))

  registerProbes(app as unknown as FastifyInstance, {
    runtime: () => runtime,
    metrics,
    apiUrl: () => apiUrl,
    sandbox,
    version: options.version ?? '0.0.0',
    sessions: () => sockets.size,
    awaitingFinish: () => gate.awaitingFinish(),
    clock,
    ...(credentials ? { tls: () => credentials.status(clock.now()) } : {}),
    ...(tlsOnly && sandbox ? { fetch: sandboxFetch! } : sandbox ? { httpStatus: httpGetStatus } : {}),
    draining: () => draining,
  })

  // A bridge that cannot listen lets go of the data directory at once (its lock).
  let tlsServer: HttpsServer | undefined
  let tlsPort: number | undefined
  const address = await app
    .listen({ host: options.host, port: tlsOnly ? options.tls!.port : options.port })
    .then(async (address) => {
      if (credentials && !tlsOnly) ({ server: tlsServer, port: tlsPort } = await tls!.listenBeside(app as unknown as FastifyInstance, credentials, options.host))
      return address
    })
    .catch(async (err: unknown) => {
      journal.close()
      await app.close().catch(() => {})
      throw err
    })
  // With a serverFactory Fastify names the address http:// whatever the server is.
  const url = address.replace('0.0.0.0', '127.0.0.1').replace(/^http:/, tlsOnly ? 'https:' : 'http:')
  if (tlsOnly) tlsPort = Number(new URL(url).port)
  // The certificate names localhost: the name a page uses to reach it.
  const tlsUrl = tlsPort !== undefined ? `https://localhost:${tlsPort}` : undefined
  // The embedded sandbox is reached over the plain listener; with TLS alone, over TLS trusting the certificate's CA.
  apiUrl = options.apiUrl ?? `${tlsOnly ? tlsUrl : url}/sandbox/1`
  runtime = new BridgeRuntime(
    {
      dataDir: options.dataDir,
      apiUrl,
      virtualPinpads: options.simulator ? 1 : 0,
      serialPaths: options.serialPaths ?? [],
      discovery: options.discovery ?? true,
      logger: log.child({ component: 'bridge' }),
      clock,
      ...(hub ? { inspect: (e) => hub.record(e) } : {}),
      onAnswer: (envelope, reply) => gate.onAnswer(envelope, reply),
      ...(tlsOnly && sandbox ? { acquirer: { fetch: sandboxFetch! } } : {}),
      onLinkTrace: (_device, trace) => {
        if (trace.type === 'nak' || trace.type === 'bad-response' || trace.type === 'stale') metrics.linkErrors.inc({ kind: trace.type })
      },
      ...options.runtime,
      // The devtools show every pinpad's state from the start: made at start.
      ...(hub ? { loadOnFirstOpen: false } : {}),
    },
    lazy ? undefined : await import('../bridge/runtime-core.js'),
  )
  await runtime.start()
  runtime.registry.on('removed', () => metrics.linkErrors.inc({ kind: 'device-removed' }))
  if (credentials) {
    const status = credentials.status(clock.now())
    if (status.days_left < 30) log.warn({ tls: status }, 'the TLS certificate expires soon: run mpos-bridge cert --renew')
  }
  log.info({ url, ...(tlsUrl ? { tlsUrl } : {}), apiUrl: sandbox ? `${apiUrl} (embedded sandbox)` : apiUrl, devices: runtime.devices().length, require_pairing: options.requirePairing === true }, 'mpos-bridge listening')

  // Card hashes 24 h after their finish, entries after the retention period: at start and hourly.
  // The cadence is real time: an hourly timer on a test's auto-advancing clock would always be the
  // next thing to jump to. What gets pruned is judged on the bridge's clock (the journal's `now`).
  const pruning = setInterval(() => prune(journal, log), 3600_000)
  pruning.unref()
  // serve answers /ready first; a second later the machine side loads in the background, so the page
  // that connects after that does not wait for it (one connecting sooner loads it itself). Real time,
  // as the pruning's: a test's auto-advancing clock would jump straight to it.
  const warmUp = lazy
    ? setTimeout(() => loadConnection().catch((err: unknown) => log.error({ err: { message: (err as Error).message } }, 'the connection code did not load')), 1000)
    : undefined
  warmUp?.unref()

  let closing: Promise<void> | undefined
  return {
    app: app as unknown as FastifyInstance,
    runtime,
    journal,
    pairing,
    metrics,
    url,
    ...(tlsUrl ? { tlsUrl } : {}),
    reloadTls: () => {
      if (!credentials) return undefined
      const server = tlsServer ?? (app.server as unknown as HttpsServer)
      return tls!.reloadInto(server, credentials).expires
    },
    close: () =>
      (closing ??= (async () => {
        // No new work from here; what runs may end by itself within the grace, then it is cancelled.
        draining = true
        clearTimeout(warmUp)
        const graceEnd = clock.now() + (options.shutdownGraceMs ?? 0)
        while (clock.now() < graceEnd && runtime.busyContexts().length > 0) await new Promise<void>((r) => clock.setTimeout(r, 50))
        // Pinpads first (payments cancelled, CLO) while clients still get their answers, then sockets (1001).
        pairing.close()
        await runtime.shutdown()
        await app.close()
        if (tlsServer) await tls!.closeTlsServer(tlsServer)
        clearInterval(pruning)
        journal.close()
      })()),
  }
}
