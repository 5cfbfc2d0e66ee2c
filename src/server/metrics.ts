/** Prometheus metrics (prom-client): commands, latency, payments, link errors, connections. */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'

export class BridgeMetrics {
  readonly registry = new Registry()
  readonly commands = new Counter({
    name: 'mpos_bridge_commands_total',
    help: 'WebSocket commands by name and outcome',
    labelNames: ['command', 'outcome'] as const,
    registers: [this.registry],
    // Answers counted since the last read are added when the counter is read (a scrape).
    collect: () => this.#flushCommands(),
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

  /**
   * Answers by command and outcome not yet added to `commands`: prom-client hashes and checks the
   * labels on every inc, a cost a polled `status` paid on every answer. The first answer of each
   * pair is added at once (the pairs keep the order they are shown in), later ones when read.
   */
  readonly #pendingCommands = new Map<string, Map<string, { labels: { command: string; outcome: string }; count: number }>>()
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
    byOutcome.set(outcome, { labels: { command, outcome }, count: 0 })
    this.commands.inc({ command, outcome })
  }

  #flushCommands(): void {
    for (const byOutcome of this.#pendingCommands.values()) {
      for (const pending of byOutcome.values()) {
        if (pending.count === 0) continue
        this.commands.inc(pending.labels, pending.count)
        pending.count = 0
      }
    }
  }

  /** The time from a command to its answer. */
  commandLatency(command: string, seconds: number): void {
    let child = this.#latencyChildren.get(command)
    if (!child) this.#latencyChildren.set(command, (child = this.latency.labels(command)))
    child.observe(seconds)
  }
}
