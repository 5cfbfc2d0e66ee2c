/** EMV table maintenance (§3.5): GTS, TLI, TLR, TLE. */
import { A, N, Nd, Reader, record } from '../fields.js'
import { MalformedPacketError } from '../../errors.js'
import { classic, type CommandSpec } from './spec.js'
import { ST } from '../return-codes.js'
import { splitTableRecords } from '../tables.js'

/** §3.5.1: GTS_TABVER is "0000000000" when nothing is loaded for that acquirer. */
export const GTS = classic('GTS', record({ GTS_ACQIDX: Nd(2) }), record({ GTS_TABVER: A(10) }))

/** §3.5.2: 000 = same version as loaded, 020 = a different one; both let the load go on. */
export const TLI = classic('TLI', record({ TLI_ACQIDX: Nd(2), TLI_TABVER: A(10) }), null, {
  resultStatuses: [ST.TABVERDIF],
})

/** §3.5.4 */
export const TLE = classic<null, null>('TLE', null, null)

/** §3.5.3: TLR_NREC then whole records (each starting with its TAB_LEN), within one 999-byte block. */
export interface TlrRequest {
  records: Buffer[]
}

export const TLR: CommandSpec<TlrRequest, Record<string, never>> = {
  id: 'TLR',
  encodeRequest: ({ records }) => [Buffer.concat([N(2).encode(records.length, 'TLR_NREC'), ...records])],
  decodeRequest: (blocks) => {
    if (blocks.length !== 1) throw new MalformedPacketError('TLR expects one block')
    const r = new Reader(blocks[0]!)
    const count = N(2).decode(r, 'TLR_NREC')
    return { records: splitTableRecords(r.rest(), count) }
  },
  encodeResponse: () => [],
  decodeResponse: () => ({}),
}
