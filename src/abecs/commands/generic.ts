/**
 * §3.8 GEN: acquirers' legacy commands, each GEN_ACQ (N2) + GEN_INLEN (N3) + GEN_CMD (A2) + data, answered
 * with GEN_OUTLEN (N3) + data. All obsolete, and gone from spec 2.20.
 */
import { H, N, Nd, S, lenH, record, varH, varNd, Reader, type Fields, type RecordCodec, type RecordOf } from '../fields.js'
import { MalformedPacketError } from '../../errors.js'
import type { CommandSpec } from './spec.js'

const SUBCOMMANDS = {
  /** §3.8.1: key map of one type, from index "aa" to "bb". */
  '02/K3': {
    request: record({ G02K3_KEYTYPE: Nd(1), G02K3_KEYUSE: Nd(1), G02K3_IDXINI: Nd(2), G02K3_IDXEND: Nd(2) }),
    // One G02K3_KEYST digit per index: "0" absent, "1" loaded, "2" not supported.
    response: record({ G02K3_KEYST: varNd(100) }),
  },
  /** §3.8.6: EMV objects of the transaction in progress. */
  '03/02': { request: record({ G0302_TAGS: varH(256) }), response: record({ G0302_EMVDAT: varH(512) }) },
  /** §3.8.7: DUKPT:TDES:DAT#1, ECB, one KSN for the whole block. */
  '03/03': {
    request: record({ G0303_METHOD: Nd(1), G0303_IDX: Nd(2), G0303_INPUT: varH(256) }),
    response: record({ G0303_KSN: H(20), G0303_OUTPUT: varH(256) }),
  },
  /** §3.8.2: ICC power and status. */
  '04/01': {
    request: record({ G0401_OPER: Nd(1), G0401_SLOT: Nd(1) }),
    response: record({ G0401_SLOT: Nd(1), G0401_STAT: Nd(1), G0401_ATRLEN: N(2), G0401_ATR: H(72) }),
  },
  /** §3.8.3: an APDU to the ICC. */
  '04/02': {
    request: record({ G0402_SLOT: Nd(1), G0402_APDU: H(8), G0402_CMDDAT: lenH(3, 255), G0402_LE: N(3) }),
    response: record({ G0402_SLOT: Nd(1), G0402_SW: H(4), G0402_RSPDAT: lenH(3, 256) }),
  },
  /** §3.8.4: PIN captured and presented to the ICC for offline verification. */
  '04/03': {
    request: record({ G0403_SLOT: Nd(1), G0403_APDU: H(8), G0403_FORMAT: H(1), G0403_MIN: N(2), G0403_MAX: N(2), G0403_PINMSG: S(32) }),
    response: record({ G0403_SLOT: Nd(1), G0403_SW: H(4) }),
  },
  /** §3.8.5: EMV objects after GCR, GOC or FNC. */
  '04/04': { request: record({ G0404_TAGS: lenH(3, 128) }), response: record({ G0404_EMVDAT: lenH(3, 256) }) },
} as const satisfies Record<string, { request: RecordCodec<Fields>; response: RecordCodec<Fields> }>

type Sub = typeof SUBCOMMANDS
export type GenSubcommand = keyof Sub
type Req<K extends GenSubcommand> = { GEN: K } & RecordOf<Sub[K]['request']['fields']>
type Res<K extends GenSubcommand> = RecordOf<Sub[K]['response']['fields']>
export type GenRequest = { [K in GenSubcommand]: Req<K> }[GenSubcommand]
export type GenResponse = { [K in GenSubcommand]: Res<K> }[GenSubcommand]
export type GenRequestOf<K extends GenSubcommand> = Req<K>
export type GenResponseOf<K extends GenSubcommand> = Res<K>

const subcommand = (name: string) => (SUBCOMMANDS as Record<string, Sub[GenSubcommand]>)[name]

export const GEN: CommandSpec<GenRequest, GenResponse> & { blocking(req: GenRequest): boolean } = {
  id: 'GEN',
  // Only the PIN capture waits for the cardholder.
  blocking: (req) => req.GEN === '04/03',
  encodeRequest: ({ GEN, ...fields }) => {
    const [acq, cmd] = GEN.split('/') as [string, string]
    const data = Buffer.concat([Buffer.from(cmd, 'latin1'), subcommand(GEN)!.request.pack(fields as never)])
    return [Buffer.concat([Buffer.from(acq, 'latin1'), N(3).encode(data.length, 'GEN_INLEN'), data])]
  },
  decodeRequest: (blocks) => {
    if (blocks.length !== 1) throw new MalformedPacketError('GEN expects one block')
    const r = new Reader(blocks[0]!)
    const acq = Nd(2).decode(r, 'GEN_ACQ')
    const len = N(3).decode(r, 'GEN_INLEN')
    if (len !== r.remaining) throw new MalformedPacketError(`GEN_INLEN ${len} but ${r.remaining} bytes follow`)
    const name = `${acq}/${r.take(2, 'GEN_CMD').toString('latin1')}`
    const sub = subcommand(name)
    if (!sub) throw new MalformedPacketError(`GEN ${name} is not a known subcommand`)
    return { GEN: name, ...sub.request.unpack(r.rest(), `GEN ${name}`) } as GenRequest
  },
  encodeResponse: (res, req) => {
    const data = subcommand(req.GEN)!.response.pack(res as never)
    return [Buffer.concat([N(3).encode(data.length, 'GEN_OUTLEN'), data])]
  },
  decodeResponse: (blocks, req) => {
    if (blocks.length !== 1) throw new MalformedPacketError('GEN response expects one block')
    const r = new Reader(blocks[0]!)
    const len = N(3).decode(r, 'GEN_OUTLEN')
    if (len !== r.remaining) throw new MalformedPacketError(`GEN_OUTLEN ${len} but ${r.remaining} bytes follow`)
    return subcommand(req.GEN)!.response.unpack(r.rest(), `GEN ${req.GEN} response`) as GenResponse
  },
}
