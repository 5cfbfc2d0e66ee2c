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
}
