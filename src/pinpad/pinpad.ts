/**
 * One open pinpad: its link and typed client, who it is, the dialect it speaks and what the
 * bridge learned while it is open (the tables it was synced with, the payment's deadline). Made
 * by `openPinpad` when the port opens, held by the device machine for the connection's lifetime;
 * everything the device's actors do goes through it.
 */
import type { HostLink } from '../abecs/link.js'
import type { PinpadClient, RequestOptions } from '../abecs/client.js'
import type { CardVault } from '../card/vault.js'
import type { EmvTables } from '../tables/types.js'
import type { PinpadHandle } from '../../machines/types.js'
import type { PinpadInfo } from './identify.js'
import { dialectFor, type Dialect } from './dialect.js'
import { systemClock, type Clock } from '../clock.js'

export class Pinpad implements PinpadHandle {
  readonly dialect: Dialect
  /** The EMV tables the pinpad was synced with: applications per brand for the card read. */
  tables: EmvTables | undefined
  /** When the customer's time for the payment in progress ends (ms on `clock`). */
  customerDeadline: number | undefined

  constructor(
    readonly deviceId: number,
    readonly link: HostLink,
    readonly client: PinpadClient,
    readonly identity: PinpadInfo,
    readonly vault: CardVault,
    readonly clock: Clock = systemClock,
  ) {
    this.dialect = dialectFor(identity)
  }

  /** Now on the pinpad's clock (the transaction's date and time in GCX/GCR). */
  now(): Date {
    return new Date(this.clock.now())
  }

  get closed(): boolean {
    return this.link.closed
  }

  /** Seconds the customer has left (for the pinpad's own SPE_TIMEOUT), if a payment set a deadline. */
  customerSeconds(): number | undefined {
    return this.customerDeadline === undefined ? undefined : (this.customerDeadline - this.clock.now()) / 1000
  }

  /** Request options for a step: its signal; NTM notifications reach the machine through the link watcher. */
  options(signal?: AbortSignal): RequestOptions {
    return signal ? { signal } : {}
  }

  async close(): Promise<void> {
    await this.link.close().catch(() => {})
  }

  /** What inspectors show instead of the object (no link internals, no tables). */
  toJSON(): { deviceId: number; model: string; specVersion: string } {
    return { deviceId: this.deviceId, model: this.identity.model, specVersion: this.identity.specVersion }
  }
}
