/** HTTP probes: /health (liveness), /ready (readiness), /status (JSON), /metrics (Prometheus). */
import { get as httpGet } from 'node:http'
import type { FastifyInstance } from 'fastify'
import type { RuntimeBase as BridgeRuntime } from '../bridge/runtime-base.js'
import type { BridgeMetrics } from './metrics.js'
import { systemClock, type Clock } from '../clock.js'

export interface ProbeDeps {
  /** Created once the server listens (the sandbox URL depends on the port). */
  runtime: () => BridgeRuntime | undefined
  metrics: BridgeMetrics
  apiUrl: () => string
  sandbox: boolean
  version: string
  sessions: () => number
  /** Payments with a card hash that await their finish_payment (the journal). */
  awaitingFinish?: () => unknown[]
  /** The clock of the uptime, the acquirer check's cache and its timeout (default: the real one). */
  clock?: Clock
  /** The TLS certificate's expiry, when TLS is served. */
  tls?: () => { expires_at: string; days_left: number; expired: boolean }
  /** Shutting down: not ready, new work refused. */
  draining?: () => boolean
  /** The acquirer check's HTTP client (default: the global fetch). */
  fetch?: typeof fetch
  /**
   * The acquirer check as a bare status code, instead of `fetch` (the embedded sandbox over the
   * plain listener: node:http, loaded anyway, where the first fetch loads undici at start-up).
   */
  httpStatus?: (url: string, signal: AbortSignal) => Promise<number>
}

/** GET `url` over node:http on a connection of its own: the status code (the body is dropped). */
export const httpGetStatus = (url: string, signal: AbortSignal): Promise<number> =>
  new Promise((resolve, reject) => {
    const req = httpGet(url, { signal, agent: false }, (res) => {
      res.resume()
      resolve(res.statusCode ?? 0)
    })
    req.on('error', reject)
  })

export function registerProbes(app: FastifyInstance, deps: ProbeDeps): void {
  const { metrics } = deps
  const clock = deps.clock ?? systemClock
  // Per server, not per module load: a process may start (and restart) more than one bridge.
  const started = clock.now()
  const runtime = () => {
    const rt = deps.runtime()
    if (!rt) throw Object.assign(new Error('The bridge is starting'), { statusCode: 503 })
    return rt
  }
  let acquirerCheck: { at: number; reachable: boolean; detail: string } | undefined

  /** Any HTTP answer means reachable (even 401/404); checked at most every 10 s. */
  async function acquirer(): Promise<{ reachable: boolean; detail: string }> {
    if (acquirerCheck && clock.now() - acquirerCheck.at < 10_000) return acquirerCheck
    let result: { reachable: boolean; detail: string }
    // AbortSignal.timeout(2000) on the clock: aborted with the same TimeoutError when the time is up.
    const timeout = new AbortController()
    const timer = clock.setTimeout(() => timeout.abort(new DOMException('The operation was aborted due to timeout', 'TimeoutError')), 2000)
    timer.unref()
    try {
      const url = `${deps.apiUrl()}/transactions/card_hash_key`
      const status = deps.httpStatus ? await deps.httpStatus(url, timeout.signal) : (await (deps.fetch ?? fetch)(url, { method: 'GET', signal: timeout.signal, redirect: 'manual' })).status
      result = { reachable: true, detail: `HTTP ${status}` }
    } catch (err) {
      // node:http reports an abort as its own AbortError: the timer's abort is the timeout all the same.
      result = { reachable: false, detail: (err as Error).name === 'TimeoutError' || timeout.signal.aborted ? 'timeout' : (err as Error).message }
    } finally {
      clock.clearTimeout(timer)
    }
    acquirerCheck = { at: clock.now(), ...result }
    return result
  }

  app.get('/health', async () => ({ status: 'ok' }))

  app.get('/ready', async (_req, reply) => {
    const acq = await acquirer()
    const rt = runtime()
    const discovery = rt.registry.discoveryRunning ? 'running' : 'off'
    // Ready means it can take a payment: a device to use and an acquirer to make the card hash with.
    const tls = deps.tls?.()
    const shuttingDown = deps.draining?.() ?? false
    const ready = rt.devices().length > 0 && acq.reachable && !shuttingDown && !tls?.expired
    reply.code(ready ? 200 : 503)
    return {
      ready,
      ...(shuttingDown ? { shutting_down: true } : {}),
      ...(tls ? { tls } : {}),
      devices: rt.devices().length,
      discovery,
      acquirer: { url: deps.sandbox ? 'embedded sandbox' : deps.apiUrl(), reachable: acq.reachable, detail: acq.detail },
    }
  })

  app.get('/status', async () => ({
    version: deps.version,
    uptime_seconds: Math.round((clock.now() - started) / 1000),
    connections: deps.sessions(),
    devices: runtime().devices(),
    contexts: runtime().contexts(),
    awaiting_finish: deps.awaitingFinish?.() ?? [],
  }))

  app.get('/metrics', async (_req, reply) => {
    const registry = await metrics.registry()
    reply.header('content-type', registry.contentType)
    return registry.metrics()
  })
}
