/**
 * Pinpad steps both dialects share: PIN capture for a magstripe card (GPN, §3.3.11), asking for
 * the card back (RMC, §3.3.14), loading the EMV tables (TLI/TLR/TLE, §3.5) and the idle screen.
 */
import type { RequestOptions } from '../abecs/client.js'
import type { EmvTables } from '../tables/types.js'
import { aidLayoutFor, buildTableRecords } from '../tables/records.js'
import type { Pinpad } from './pinpad.js'
import { cardOf } from './card-data.js'
import { toDspMessage } from './display-text.js'

/** The key index of DUKPT:TDES:PIN the bridge uses: the first one the pinpad holds. */
export const pinKeyIndex = (pinpad: Pinpad) => pinpad.identity.dukptKeys[0] ?? 1

/** GPN_MSG: the amount on the first line, "SENHA:" on the second (§3.3.11, 2×16). */
export function gpnMessage(amount: number): string {
  const value = (amount / 100).toLocaleString('pt-BR', { minimumFractionDigits: 2 })
  return `VALOR ${value}`.padEnd(16).slice(0, 16) + 'SENHA:'
}

/** GPN for a magstripe card: DUKPT:TDES (method 3), the PAN of the card read (§3.3.11). */
export async function capturePin(pinpad: Pinpad, cardRef: string, amount: number, signal?: AbortSignal): Promise<void> {
  const card = cardOf(pinpad.vault, cardRef)
  const gpn = await pinpad.client.call(
    'GPN',
    {
      GPN_METHOD: '3',
      GPN_KEYIDX: pinKeyIndex(pinpad),
      GPN_WKENC: '0'.repeat(32),
      GPN_PANLEN: card.pan.length,
      GPN_PAN: card.pan,
      entries: [{ GPN_MIN: 4, GPN_MAX: 12, GPN_MSG: gpnMessage(amount) }],
    },
    pinpad.options(signal),
  )
  card.pin = { mode: 'online', block: gpn.GPN_PINBLK, ksn: gpn.GPN_KSN }
}

/** RMC: shows the message and waits until the card leaves the slot (§3.3.14). */
export async function removeCard(pinpad: Pinpad, message: string, signal?: AbortSignal): Promise<void> {
  await pinpad.client.call('RMC', { RMC_MSG: message.padEnd(32).slice(0, 32) }, pinpad.options(signal))
}

/** DSP with a two-line message (§3.3.5). */
export async function showText(pinpad: Pinpad, text: string, signal?: AbortSignal): Promise<void> {
  await pinpad.client.call('DSP', { DSP_MSG: toDspMessage(text) }, pinpad.options(signal))
}

/** TLR_NREC (N2) plus whole records must fit one 999-byte block (§3.5.3). */
const TLR_ROOM = 999 - 2

export function tlrBatches(records: Buffer[]): Buffer[][] {
  const batches: Buffer[][] = []
  let batch: Buffer[] = []
  let size = 0
  for (const r of records) {
    if (batch.length && (size + r.length > TLR_ROOM || batch.length === 99)) {
      batches.push(batch)
      batch = []
      size = 0
    }
    batch.push(r)
    size += r.length
  }
  if (batch.length) batches.push(batch)
  return batches
}

/**
 * Replaces every table in the pinpad by `tables` under its version (unified management, §4.2.1),
 * with AID records of the size its ABECS version knows (§4.1.1: 284 bytes for a 1.x pinpad).
 */
export async function loadTables(pinpad: Pinpad, tables: EmvTables, signal?: AbortSignal): Promise<void> {
  const options: RequestOptions = pinpad.options(signal)
  const { client } = pinpad
  await client.request('TLI', { TLI_ACQIDX: '00', TLI_TABVER: tables.version }, options)
  const records = buildTableRecords(tables, 0, aidLayoutFor(pinpad.identity.specVersion))
  for (const batch of tlrBatches(records)) await client.call('TLR', { records: batch }, options)
  await client.call('TLE', {}, options)
}
