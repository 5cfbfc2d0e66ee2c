/**
 * Prometheus metrics (prom-client): commands, latency, payments, link errors, connections.
 *
 * prom-client (with its default metrics) is loaded on the first thing counted or the first scrape,
 * not at start-up: it was a fifth of the bridge's cold start. What is counted before it has
 * loaded waits in a short queue and is applied in order once it has.
 */
import type { Counter, Gauge, Histogram, Registry } from 'prom-client'

interface Instruments {
  registry: Registry
  commands: Counter<'command' | 'outcome'>
  latency: Histogram<'command'>
  payments: Counter<'status'>
  linkErrors: Counter<'kind'>
  connections: Gauge
}

async function instruments(): Promise<Instruments> {
  const { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } = await import('prom-client')
  const registry = new Registry()
  const m: Instruments = {
    registry,
    commands: new Counter({
      name: 'mpos_bridge_commands_total',
      help: 'WebSocket commands by name and outcome',
      labelNames: ['command', 'outcome'] as const,
      registers: [registry],
    }),
    latency: new Histogram({
      name: 'mpos_bridge_command_duration_seconds',
      help: 'Time from a command to its answer',
      labelNames: ['command'] as const,
      buckets: [0.005, 0.025, 0.1, 0.25, 1, 2.5, 5, 10, 30, 60, 120],
      registers: [registry],
    }),
    payments: new Counter({
      name: 'mpos_bridge_payments_total',
      help: 'Payments by status (accepted, rejected, errored, canceled)',
      labelNames: ['status'] as const,
      registers: [registry],
    }),
    linkErrors: new Counter({
      name: 'mpos_bridge_link_errors_total',
      help: 'Pinpad link problems: NAKs received, corrupted answers, timeouts, disconnections',
      labelNames: ['kind'] as const,
      registers: [registry],
    }),
    connections: new Gauge({
      name: 'mpos_bridge_open_connections',
      help: 'Open WebSocket connections',
      registers: [registry],
    }),
  }
  collectDefaultMetrics({ register: registry, prefix: 'mpos_bridge_' })
  return m
}

export class BridgeMetrics {
  #m: Instruments | undefined
  #loading: Promise<Instruments> | undefined
  #pending: Array<(m: Instruments) => void> = []

  #load(): Promise<Instruments> {
    return (this.#loading ??= instruments().then((m) => {
      this.#m = m
      for (const apply of this.#pending) apply(m)
      this.#pending = []
      return m
    }))
  }

  #use(apply: (m: Instruments) => void): void {
    if (this.#m) return apply(this.#m)
    this.#pending.push(apply)
    // A failed load surfaces at the next scrape (a 500), not as an unhandled rejection.
    this.#load().catch(() => {})
  }

  readonly commands = { inc: (labels: { command: string; outcome: string }) => this.#use((m) => m.commands.inc(labels)) }
  readonly payments = { inc: (labels: { status: string }) => this.#use((m) => m.payments.inc(labels)) }
  readonly linkErrors = { inc: (labels: { kind: string }) => this.#use((m) => m.linkErrors.inc(labels)) }
  readonly connections = {
    inc: () => this.#use((m) => m.connections.inc()),
    dec: () => this.#use((m) => m.connections.dec()),
  }

  /** The registry, prom-client loaded (for /metrics). */
  registry(): Promise<Registry> {
    return this.#load().then((m) => m.registry)
  }

  // Per-command children, looked up once: labelling on every answer hashed the labels each time.
  readonly #commandChildren = new Map<string, { inc(): void }>()
  readonly #latencyChildren = new Map<string, { observe(seconds: number): void }>()

  /** A command answered (`outcome`: success, error, invalid). */
  commandDone(command: string, outcome: string): void {
    // No closure once loaded: this runs for every answer.
    const m = this.#m
    if (!m) return this.#use(() => this.commandDone(command, outcome))
    const key = `${command}\u0000${outcome}`
    let child = this.#commandChildren.get(key)
    if (!child) this.#commandChildren.set(key, (child = m.commands.labels(command, outcome)))
    child.inc()
  }

  /** The time from a command to its answer. */
  commandLatency(command: string, seconds: number): void {
    const m = this.#m
    if (!m) return this.#use(() => this.commandLatency(command, seconds))
    let child = this.#latencyChildren.get(command)
    if (!child) this.#latencyChildren.set(command, (child = m.latency.labels(command)))
    child.observe(seconds)
  }
}
