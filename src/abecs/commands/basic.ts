/** Basic commands (§3.3): DSP, DEX, GKY, CKE, CEX, GPN, GTK, RMC. */
import { A, H, N, Nd, S, lenText, optional, record, Reader, type RecordOf } from '../fields.js'
import { MalformedPacketError } from '../../errors.js'
import type { PpData, SpeParams } from '../params.js'
import { classic, tlvCommand, type CommandSpec } from './spec.js'

/** §3.3.5: 2 lines × 16 columns, already laid out by the host. */
export const DSP = classic('DSP', record({ DSP_MSG: S(32) }), null)

/** §3.3.4: free text up to 160 characters; CR (0Dh) breaks lines. */
export const DEX = classic('DEX', record({ DEX_MSG: lenText(3, 160, true) }), null)

/** §3.3.10: the key pressed is the status: 000 OK, 004–007 F1–F4, 008 backspace, 013 cancel. */
export const GKY = classic<null, null>('GKY', null, null, { resultStatuses: [4, 5, 6, 7, 8, 13] })

/** §3.3.14: blocks until the card is removed; RMC_MSG stays on the display. */
export const RMC = classic('RMC', record({ RMC_MSG: S(32) }), null)

/** §3.3.1 */
export const CEX = tlvCommand<Pick<SpeParams, 'SPE_CEXOPT' | 'SPE_TIMEOUT' | 'SPE_PANMASK'>, PpData>('CEX', {
  request: ['SPE_CEXOPT'],
  response: ['PP_EVENT'],
})

/** §3.3.12: complete tracks of the card read by GCX/CEX, in clear or encrypted. */
export const GTK = tlvCommand<
  Pick<SpeParams, 'SPE_TRACKS' | 'SPE_MTHDDAT' | 'SPE_IVCBC' | 'SPE_OPNDIG' | 'SPE_KEYIDX' | 'SPE_WKENC' | 'SPE_PBKMOD' | 'SPE_PBKEXP'>,
  PpData
>('GTK')

// §3.3.3 CKE
const CKE_REQUEST = record({
  CKE_KEY: Nd(1),
  CKE_MAG: Nd(1),
  CKE_ICC: Nd(1),
  CKE_CTLS: optional(Nd(1)),
})
const CKE_KEY_EVENT = record({ CKE_KEYCODE: Nd(2) })
const CKE_MAG_EVENT = record({
  CKE_TRK1LEN: N(2),
  CKE_TRK1: A(76),
  CKE_TRK2LEN: N(2),
  CKE_TRK2: A(37),
  CKE_TRK3LEN: N(3),
  CKE_TRK3: A(104),
})
const CKE_ICC_EVENT = record({ CKE_ICCSTAT: Nd(1) })
const CKE_CTLS_EVENT = record({ CKE_CTLSSTAT: Nd(1) })

export type CkeRequest = RecordOf<typeof CKE_REQUEST.fields>
export type CkeResponse =
  | ({ CKE_EVENT: '0' } & RecordOf<typeof CKE_KEY_EVENT.fields>)
  | ({ CKE_EVENT: '1' } & RecordOf<typeof CKE_MAG_EVENT.fields>)
  | ({ CKE_EVENT: '2' } & RecordOf<typeof CKE_ICC_EVENT.fields>)
  | ({ CKE_EVENT: '3' } & RecordOf<typeof CKE_CTLS_EVENT.fields>)

const CKE_EVENTS = { '0': CKE_KEY_EVENT, '1': CKE_MAG_EVENT, '2': CKE_ICC_EVENT, '3': CKE_CTLS_EVENT } as const

export const CKE: CommandSpec<CkeRequest, CkeResponse> = {
  id: 'CKE',
  encodeRequest: (req) => [CKE_REQUEST.pack(req)],
  decodeRequest: (blocks) => {
    if (blocks.length !== 1) throw new MalformedPacketError('CKE expects one block')
    return CKE_REQUEST.unpack(blocks[0]!, 'CKE command')
  },
  encodeResponse: (res) => {
    const { CKE_EVENT, ...rest } = res
    return [Buffer.concat([Buffer.from(CKE_EVENT, 'latin1'), CKE_EVENTS[CKE_EVENT].pack(rest as never)])]
  },
  decodeResponse: (blocks) => {
    if (blocks.length !== 1) throw new MalformedPacketError('CKE response expects one block')
    const r = new Reader(blocks[0]!)
    const event = Nd(1).decode(r, 'CKE_EVENT') as keyof typeof CKE_EVENTS
    const codec = CKE_EVENTS[event]
    if (!codec) throw new MalformedPacketError(`CKE_EVENT ${event} is not 0–3`)
    return { CKE_EVENT: event, ...codec.unpack(r.rest(), 'CKE response') } as CkeResponse
  },
}

// §3.3.11 GPN
const GPN_HEAD = record({
  GPN_METHOD: Nd(1),
  GPN_KEYIDX: N(2),
  GPN_WKENC: H(32),
  GPN_PANLEN: N(2),
  GPN_PAN: A(19),
  GPN_ENTRIES: N(1),
})
const GPN_ENTRY = record({ GPN_MIN: N(2), GPN_MAX: N(2), GPN_MSG: S(32) })
const GPN_RESPONSE = record({ GPN_PINBLK: H(16), GPN_KSN: H(20) })

export type GpnEntry = RecordOf<typeof GPN_ENTRY.fields>
export type GpnRequest = Omit<RecordOf<typeof GPN_HEAD.fields>, 'GPN_ENTRIES'> & { entries: GpnEntry[] }
export type GpnResponse = RecordOf<typeof GPN_RESPONSE.fields>

export const GPN: CommandSpec<GpnRequest, GpnResponse> = {
  id: 'GPN',
  encodeRequest: ({ entries, ...head }) => [
    Buffer.concat([GPN_HEAD.pack({ ...head, GPN_ENTRIES: entries.length }), ...entries.map((e) => GPN_ENTRY.pack(e))]),
  ],
  decodeRequest: (blocks) => {
    if (blocks.length !== 1) throw new MalformedPacketError('GPN expects one block')
    const r = new Reader(blocks[0]!)
    const { GPN_ENTRIES, ...head } = GPN_HEAD.decode(r, 'GPN command')
    const entries: GpnEntry[] = []
    for (let i = 0; i < GPN_ENTRIES; i++) entries.push(GPN_ENTRY.decode(r, `GPN entry ${i + 1}`))
    r.expectEnd('GPN command')
    return { ...head, entries }
  },
  encodeResponse: (res) => [GPN_RESPONSE.pack(res)],
  decodeResponse: (blocks) => {
    if (blocks.length !== 1) throw new MalformedPacketError('GPN response expects one block')
    return GPN_RESPONSE.unpack(blocks[0]!, 'GPN response')
  },
}
