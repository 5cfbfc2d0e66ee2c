/** The open links of the devices, by device id: what the device machine's actors share. */
import type { HostLink } from '../abecs/link.js'
import type { PinpadClient } from '../abecs/client.js'
import type { PinpadInfo } from './identify.js'
import { LinkClosedError } from '../errors.js'

export interface PinpadConnection {
  deviceId: string
  link: HostLink
  client: PinpadClient
  identity: PinpadInfo
}

export class Connections {
  readonly #open = new Map<string, PinpadConnection>()

  get(deviceId: string): PinpadConnection {
    const c = this.#open.get(deviceId)
    if (!c || c.link.closed) throw new LinkClosedError(`device ${deviceId} is not connected`)
    return c
  }

  find(deviceId: string): PinpadConnection | undefined {
    return this.#open.get(deviceId)
  }

  set(connection: PinpadConnection): void {
    this.#open.set(connection.deviceId, connection)
  }

  async close(deviceId: string): Promise<void> {
    const c = this.#open.get(deviceId)
    this.#open.delete(deviceId)
    await c?.link.close().catch(() => {})
  }

  async closeAll(): Promise<void> {
    await Promise.all([...this.#open.keys()].map((id) => this.close(id)))
  }
}
