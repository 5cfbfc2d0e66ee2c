/**
 * Who is on the other end: CAN (§2.2.2.3), OPN (classic, or secure when asked), GIN "00" and, for
 * spec 2.x pinpads, GIX (§3.2.1–3.2.4). Used by `mpos-bridge probe` and by the device machine's connect step.
 */
import type { PinpadClient, RequestOptions } from '../abecs/client.js'
import type { PpData } from '../abecs/params.js'
import { PinpadStatusError } from '../abecs/status-error.js'

export interface PinpadInfo {
  manufacturer: string
  model: string
  serialNumber: string
  /** Operating system / firmware version. */
  firmwareVersion: string
  /** ABECS specification version, "V.VV" (GIN_SPECVER / PP_SPECVER). */
  specVersion: string
  managerVersion: string
  contactless: boolean
  /** DUKPT:TDES:PIN key indexes loaded (from GIX PP_DKPTTDESP; GIN "03" for 1.x pinpads). */
  dukptKeys: number[]
  /** True when the pinpad speaks the "Abecs" (TLV) commands (spec 2.x). */
  abecs: boolean
  /** Present when a secure session was asked for: whether the pinpad opened one (§5.2.1). */
  secureSession?: boolean
}

export interface IdentifyOptions extends Pick<RequestOptions, 'signal' | 'timeoutMs'> {
  /**
   * Open with the secure OPN (§3.2.2) instead of the classic one (§3.2.1): from its answer on,
   * every command but OPN goes sealed (§5.2.2). A 1.x pinpad answers the obsolete way and the
   * link stays in clear (`secureSession: false`).
   */
  secure?: boolean
}

const trim = (s: string | undefined) => (s ?? '').trim()

/** "2.12" → 2.12; anything unreadable counts as 1.x. */
export function specMajor(version: string): number {
  const n = Number.parseFloat(version)
  return Number.isFinite(n) ? Math.floor(n) : 1
}

function keyIndexes(map: string | undefined): number[] {
  if (!map) return []
  const out: number[] = []
  for (let i = 0; i < map.length; i++) if (map[i] === '1') out.push(i)
  return out
}

export async function identifyPinpad(client: PinpadClient, identifyOptions: IdentifyOptions = {}): Promise<PinpadInfo> {
  const { secure, ...options } = identifyOptions
  await client.link.open()
  const secured = secure ? await client.openSecure(options) : undefined
  if (!secure) await client.call('OPN', {}, options)
  const gin = await client.call('GIN', { GIN_ACQIDX: '00' }, options)
  if (gin.layout !== '00') throw new Error('unreachable: GIN 00 layout')
  const info: PinpadInfo = {
    manufacturer: trim(gin.GIN_MNAME),
    model: trim(gin.GIN_MODEL).split(';')[0]!.trim(),
    serialNumber: trim(gin.GIN_SERNUM),
    firmwareVersion: trim(gin.GIN_SOVER),
    specVersion: trim(gin.GIN_SPECVER),
    managerVersion: trim(gin.GIN_MANVER),
    contactless: gin.GIN_CTLSSUP === 'C',
    dukptKeys: [],
    abecs: specMajor(trim(gin.GIN_SPECVER)) >= 2,
    ...(secured !== undefined ? { secureSession: secured } : {}),
  }
  if (info.abecs) {
    const gix: PpData = await client.call('GIX', {}, options)
    if (gix.PP_SERNUM) info.serialNumber = trim(gix.PP_SERNUM)
    if (gix.PP_CAPAB) info.contactless = gix.PP_CAPAB[0] === '1'
    info.dukptKeys = keyIndexes(gix.PP_DKPTTDESP)
  } else {
    // A 1.x pinpad tells only whether DUKPT:TDES:PIN #01 is there (GIN "03", GIN_DUKPT).
    const gin03 = await client.call('GIN', { GIN_ACQIDX: '03' }, options).catch((err: unknown) => {
      if (err instanceof PinpadStatusError) return undefined
      throw err
    })
    if (gin03?.layout === '03' && gin03.GIN_DUKPT === 'T') info.dukptKeys = [1]
  }
  return info
}
