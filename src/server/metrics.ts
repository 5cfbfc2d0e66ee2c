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

async function instruments(collectCommands: () => void): Promise<Instruments> {
  const { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } = await import('prom-client')
  const registry = new Registry()
  const m: Instruments = {
    registry,
    commands: new Counter({
      name: 'mpos_bridge_commands_total',
      help: 'WebSocket commands by name and outcome',
      labelNames: ['command', 'outcome'] as const,
      registers: [registry],
      // Answers counted since the last read are added when the counter is read (a scrape).
      collect: collectCommands,
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
    return (this.#loading ??= instruments(() => this.#flushCommands()).then((m) => {
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

  /**
   * Answers by command and outcome not yet added to `commands`: prom-client hashes and checks the
   * labels on every inc, a cost a polled `status` paid on every answer. The first answer of each
   * pair is added at once (the pairs keep the order they are shown in), later ones when read.
   */
  readonly #pendingCommands = new Map<string, Map<string, { labels: { command: string; outcome: string }; count: number }>>()
  // Per-command children, looked up once: labelling on every answer hashed the labels each time.
  readonly #latencyChildren = new Map<string, { observe(seconds: number): void }>()

  /** A command answered (`outcome`: success, error, invalid). */
  commandDone(command: string, outcome: string): void {
    let byOutcome = this.#pendingCommands.get(command)
    if (!byOutcome) this.#pendingCommands.set(command, (byOutcome = new Map()))
    const pending = byOutcome.get(outcome)
    if (pending) {
      pending.count++
      return
    }
    const labels = { command, outcome }
    byOutcome.set(outcome, { labels, count: 0 })
    this.#use((m) => m.commands.inc(labels))
  }

  #flushCommands(): void {
    const m = this.#m
    if (!m) return
    for (const byOutcome of this.#pendingCommands.values()) {
      for (const pending of byOutcome.values()) {
        if (pending.count === 0) continue
        m.commands.inc(pending.labels, pending.count)
        pending.count = 0
      }
    }
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
