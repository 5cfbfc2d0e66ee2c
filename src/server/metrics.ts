/** Prometheus metrics (prom-client): commands, latency, payments, link errors, connections. */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'

export class BridgeMetrics {
  readonly registry = new Registry()
  readonly commands = new Counter({
    name: 'mpos_bridge_commands_total',
    help: 'WebSocket commands by name and outcome',
    labelNames: ['command', 'outcome'] as const,
    registers: [this.registry],
  })
  readonly latency = new Histogram({
    name: 'mpos_bridge_command_duration_seconds',
    help: 'Time from a command to its answer',
    labelNames: ['command'] as const,
    buckets: [0.005, 0.025, 0.1, 0.25, 1, 2.5, 5, 10, 30, 60, 120],
    registers: [this.registry],
  })
  readonly payments = new Counter({
    name: 'mpos_bridge_payments_total',
    help: 'Payments by status (accepted, rejected, errored, canceled)',
    labelNames: ['status'] as const,
    registers: [this.registry],
  })
  readonly linkErrors = new Counter({
    name: 'mpos_bridge_link_errors_total',
    help: 'Pinpad link problems: NAKs received, corrupted answers, timeouts, disconnections',
    labelNames: ['kind'] as const,
    registers: [this.registry],
  })
  readonly connections = new Gauge({
    name: 'mpos_bridge_open_connections',
    help: 'Open WebSocket connections',
    registers: [this.registry],
  })

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'mpos_bridge_' })
  }

  // Per-command children, looked up once: labelling on every answer hashed the labels each time.
  readonly #commandChildren = new Map<string, { inc(): void }>()
  readonly #latencyChildren = new Map<string, { observe(seconds: number): void }>()

  /** A command answered (`outcome`: success, error, invalid). */
  commandDone(command: string, outcome: string): void {
    const key = `${command}\u0000${outcome}`
    let child = this.#commandChildren.get(key)
    if (!child) this.#commandChildren.set(key, (child = this.commands.labels(command, outcome)))
    child.inc()
  }

  /** The time from a command to its answer. */
  commandLatency(command: string, seconds: number): void {
    let child = this.#latencyChildren.get(command)
    if (!child) this.#latencyChildren.set(command, (child = this.latency.labels(command)))
    child.observe(seconds)
  }
}
