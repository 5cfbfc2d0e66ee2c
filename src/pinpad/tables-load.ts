/** Loading EMV tables into the pinpad: TLI, TLR in 999-byte blocks, TLE (§3.5, §6.7). */
import type { PinpadClient, RequestOptions } from '../abecs/client.js'
import type { EmvTables } from '../tables/types.js'
import { aidLayoutFor, buildTableRecords } from '../tables/records.js'
import { tabVerId } from '../abecs/params.js'
import type { PinpadInfo } from './identify.js'

/** TLR_NREC (N2) plus whole records must fit one 999-byte block (§3.5.3). */
const TLR_ROOM = 999 - 2

/** The version of the unified table set ("00", §4.2.1) the pinpad holds. */
export async function pinpadTablesVersion(client: PinpadClient, identity: PinpadInfo, options: RequestOptions = {}): Promise<string> {
  if (identity.abecs) {
    const gix = await client.call('GIX', { SPE_IDLIST: [tabVerId(0)] }, options)
    return (gix.PP_TABVER00 ?? '0000000000').trim()
  }
  return (await client.call('GTS', { GTS_ACQIDX: '00' }, options)).GTS_TABVER.trim()
}

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
export async function loadTables(client: PinpadClient, tables: EmvTables, identity: PinpadInfo, options: RequestOptions = {}): Promise<void> {
  await client.request('TLI', { TLI_ACQIDX: '00', TLI_TABVER: tables.version }, options)
  const records = buildTableRecords(tables, 0, aidLayoutFor(identity.specVersion))
  for (const batch of tlrBatches(records)) await client.call('TLR', { records: batch }, options)
  await client.call('TLE', {}, options)
}
