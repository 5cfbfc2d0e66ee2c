/**
 * The pinpad's side of the secure session (§5.2, §6.3.2): KSEC drawn at a secure OPN and sent under
 * the host's RSA key; sealed commands opened and their answers (and NTMs) sealed; ERR003 for a sealed
 * packet without a session, ERR009 (session dropped, pinpad closed) for one that does not open,
 * OPN010 for a sealed OPN. CLO/CLX answer in clear and end the session.
 *
 * A command in clear during a session: §5.2.2 and §6.3.2 want CMD009 (session kept); the PPC-930 of
 * the SCOPE capture processed it and answered in clear. `clearCommands` picks: 'accept' (the
 * device, default) or 'refuse' (the text). See docs/abecs-notes.md.
 */
import { randomBytes, type KeyObject } from 'node:crypto'
import { encodeResponse } from '../abecs/packet.js'
import { ST } from '../abecs/return-codes.js'
import { KSEC_BYTES, MAX_SECURE_CLEAR, isSecurePacket, openPacket, sealPacket } from '../abecs/secure.js'
import { rsaEncryptPkcs1 } from '../crypto/rsa.js'
import { ntmPacket } from './pinpad-link.js'

export type ClearCommandPolicy = 'accept' | 'refuse'

export interface LayerContext {
  signal: AbortSignal
  notify: (message: string) => void
  sendPacket: (data: Buffer) => void
}

type Process = (clear: Buffer, ctx: LayerContext) => Promise<Buffer | undefined>

const idOf = (data: Buffer) => data.subarray(0, 3).toString('latin1')

export class PinpadSecureChannel {
  #ksec: Buffer | undefined

  constructor(readonly clearCommands: ClearCommandPolicy = 'accept') {}

  get active(): boolean {
    return this.#ksec !== undefined
  }

  /** §5.2.1: a new random KSEC, returned encrypted under the host's key (PKCS #1 block, OPN_CRKSEC). */
  start(hostKey: KeyObject): Buffer {
    const ksec = randomBytes(KSEC_BYTES)
    const crksec = rsaEncryptPkcs1(hostKey, ksec)
    this.#ksec = ksec
    return crksec
  }

  /** §5.2.2.3: KSEC wiped. */
  end(): void {
    this.#ksec?.fill(0)
    this.#ksec = undefined
  }

  /** Runs one received packet through the session rules around `process` (the clear-text pinpad). */
  async handle(data: Buffer, ctx: LayerContext, process: Process, close: () => void): Promise<Buffer | undefined> {
    if (!isSecurePacket(data)) {
      if (this.active && idOf(data) !== 'OPN' && this.clearCommands === 'refuse') return encodeResponse(idOf(data), ST.ERRPKTSEC)
      return process(data, ctx)
    }
    if (!this.#ksec) return encodeResponse('ERR', ST.NOSEC)
    let clear: Buffer
    try {
      clear = openPacket(this.#ksec, data)
    } catch {
      this.end()
      close()
      return encodeResponse('ERR', ST.ERRPKTSEC)
    }
    if (idOf(clear) === 'OPN') {
      // §6.3.2: a sealed OPN is refused and, as after CLO, the session ends and the pinpad is closed.
      this.end()
      close()
      return encodeResponse('OPN', ST.INVCALL)
    }
    const sealed: LayerContext = {
      ...ctx,
      sendPacket: (p) => ctx.sendPacket(this.#ksec ? sealPacket(this.#ksec, p) : p),
      notify: (m) => sealed.sendPacket(ntmPacket(m)),
    }
    let response = await process(clear, sealed)
    if (!response || !this.#ksec) return response
    if (response.length > MAX_SECURE_CLEAR) response = encodeResponse(idOf(response), ST.RSPOVRFL)
    return sealPacket(this.#ksec, response)
  }
}
