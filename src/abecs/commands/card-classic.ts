/** Classic card processing (§3.6, obsolete but the only kind a 1.x pinpad speaks): GCR, GOC, FNC. */
import { A, H, N, Nd, Reader, lenH, lenText, optional, record, type Codec, type RecordOf } from '../fields.js'
import { MalformedPacketError } from '../../errors.js'
import { classic, type CommandSpec } from './spec.js'

// §3.6.1 GCR
const GCR_HEAD = record({
  GCR_ACQIDXREQ: Nd(2),
  GCR_APPTYPREQ: Nd(2),
  GCR_AMOUNT: N(12),
  GCR_DATE: Nd(6),
  GCR_TIME: Nd(6),
  GCR_TABVER: A(10),
  GCR_QTDAPP: N(2),
})
const GCR_CARD = record({
  GCR_CARDTYPE: Nd(2),
  GCR_STATCHIP: Nd(1),
  GCR_APPTYPE: Nd(2),
  GCR_ACQIDX: Nd(2),
  GCR_RECIDX: A(2),
  GCR_TRK1LEN: N(2),
  GCR_TRK1: A(76),
  GCR_TRK2LEN: N(2),
  GCR_TRK2: A(37),
  GCR_TRK3LEN: N(3),
  GCR_TRK3: A(104),
  GCR_PANLEN: N(2),
  GCR_PAN: A(19),
  GCR_PANSEQNO: Nd(2),
  GCR_APPLABEL: A(16),
  GCR_SRVCODE: Nd(3),
  GCR_CHNAME: A(26),
  GCR_CARDEXP: Nd(6),
})

/**
 * GCR_RUF1 (N29), GCR_ISSCNTRY (N3), GCR_ACQRDLEN (N3), GCR_ACQRD. Both worked examples of
 * §3.6.1 carry 39 RUF digits where the layout says 29 (352 bytes with GCR_ACQRDLEN "000"), so
 * the decoder takes whichever RUF size makes the lengths agree; the RUF is kept as received.
 */
const GCR_TAIL: Codec<{ GCR_RUF1: string; GCR_ISSCNTRY: string; GCR_ACQRD: string }> = {
  format: 'N29 N3 N3+A..66',
  encode: (v, f) =>
    Buffer.concat([
      Nd(v.GCR_RUF1.length === 39 ? 39 : 29).encode(v.GCR_RUF1, 'GCR_RUF1'),
      Nd(3).encode(v.GCR_ISSCNTRY, 'GCR_ISSCNTRY'),
      lenText(3, 66).encode(v.GCR_ACQRD, f),
    ]),
  decode: (r) => {
    const rest = r.buf.subarray(r.pos)
    const ruf = [29, 39].find((n) => {
      const len = rest.subarray(n + 3, n + 6).toString('latin1')
      return /^\d{3}$/.test(len) && n + 6 + Number(len) === rest.length
    })
    if (ruf === undefined) throw new MalformedPacketError(`GCR response tail of ${rest.length} bytes does not fit GCR_RUF1…GCR_ACQRD`)
    return {
      GCR_RUF1: Nd(ruf).decode(r, 'GCR_RUF1'),
      GCR_ISSCNTRY: Nd(3).decode(r, 'GCR_ISSCNTRY'),
      GCR_ACQRD: lenText(3, 66).decode(r, 'GCR_ACQRD'),
    }
  },
}

const GCR_RESPONSE = {
  pack: (res: GcrResponse) => Buffer.concat([GCR_CARD.pack(res), GCR_TAIL.encode(res, 'GCR response')]),
  unpack: (buf: Buffer): GcrResponse => {
    const r = new Reader(buf)
    const card = GCR_CARD.decode(r, 'GCR response')
    const tail = GCR_TAIL.decode(r, 'GCR response')
    r.expectEnd('GCR response')
    return { ...card, ...tail }
  },
}

export type GcrParams = Omit<RecordOf<typeof GCR_HEAD.fields>, 'GCR_QTDAPP'> & {
  /** GCR_IDAPPn: TAB_ACQ + TAB_RECIDX of the AID records to use (with GCR_APPTYPREQ "00"). */
  GCR_IDAPP: string[]
  /** "1" enables the contactless interface (the default when absent). */
  GCR_CTLSON?: string
}
/** An empty GCR re-submits the previous one after the tables were reloaded (ST_TABVERDIF, §3.6.1). */
export type GcrRequest = GcrParams | { resume: true }
export type GcrResponse = RecordOf<typeof GCR_CARD.fields> & { GCR_RUF1: string; GCR_ISSCNTRY: string; GCR_ACQRD: string }

export const isGcrResume = (req: GcrRequest): req is { resume: true } => 'resume' in req

export const GCR: CommandSpec<GcrRequest, GcrResponse> = {
  id: 'GCR',
  encodeRequest: (req) => {
    if (isGcrResume(req)) return []
    const { GCR_IDAPP, GCR_CTLSON, ...head } = req
    return [
      Buffer.concat([
        GCR_HEAD.pack({ ...head, GCR_QTDAPP: GCR_IDAPP.length }),
        ...GCR_IDAPP.map((id, i) => A(4).encode(id, `GCR_IDAPP${i + 1}`)),
        optional(Nd(1)).encode(GCR_CTLSON, 'GCR_CTLSON'),
      ]),
    ]
  },
  decodeRequest: (blocks) => {
    if (blocks.length === 0 || (blocks.length === 1 && blocks[0]!.length === 0)) return { resume: true }
    if (blocks.length !== 1) throw new MalformedPacketError('GCR expects one block')
    const r = new Reader(blocks[0]!)
    const { GCR_QTDAPP, ...head } = GCR_HEAD.decode(r, 'GCR command')
    const GCR_IDAPP: string[] = []
    for (let i = 0; i < GCR_QTDAPP; i++) GCR_IDAPP.push(A(4).decode(r, `GCR_IDAPP${i + 1}`))
    const GCR_CTLSON = optional(Nd(1)).decode(r, 'GCR_CTLSON')
    r.expectEnd('GCR command')
    return { ...head, GCR_IDAPP, ...(GCR_CTLSON === undefined ? {} : { GCR_CTLSON }) }
  },
  encodeResponse: (res) => [GCR_RESPONSE.pack(res)],
  decodeResponse: (blocks) => {
    if (blocks.length !== 1) throw new MalformedPacketError(`GCR response expects one block, got ${blocks.length}`)
    return GCR_RESPONSE.unpack(blocks[0]!)
  },
}

/** §3.6.2: extra EMV objects (TLV, up to 99 bytes) for GOC and FNC, after GCR read a chip card. */
export const CNG = classic('CNG', record({ CNG_EMVDAT: lenH(2, 99) }), null)

// §3.6.3 GOC: three command blocks (parameters, tag list 1, tag list 2).
const GOC_PARAMS = record({
  GOC_AMOUNT: N(12),
  GOC_CASHBACK: N(12),
  GOC_EXCLIST: Nd(1),
  GOC_CONNECT: Nd(1),
  GOC_RUF1: Nd(1),
  GOC_METHOD: Nd(1),
  GOC_KEYIDX: N(2),
  GOC_WKENC: H(32),
  GOC_RISKMAN: Nd(1),
  GOC_FLRLIMIT: H(8),
  GOC_TPBRS: N(2),
  GOC_TVBRS: H(8),
  GOC_MTPBRS: N(2),
  GOC_ACQPR: lenText(3, 32, true),
})
const GOC_TAGS1 = record({ GOC_TAGS1: lenH(3, 128) })
const GOC_TAGS2 = record({ GOC_TAGS2: lenH(3, 128) })
const GOC_RESPONSE = record({
  GOC_DECISION: Nd(1),
  GOC_SIGNAT: Nd(1),
  GOC_PINOFF: Nd(1),
  GOC_ERRPINOFF: N(1),
  GOC_PBLOCKED: Nd(1),
  GOC_PINONL: Nd(1),
  GOC_PINBLK: H(16),
  GOC_KSN: H(20),
  GOC_EMVDAT: lenH(3, 512),
  GOC_ACQRD: lenText(3, 999),
})

export type GocRequest = RecordOf<typeof GOC_PARAMS.fields> & { GOC_TAGS1: string; GOC_TAGS2: string }
export type GocResponse = RecordOf<typeof GOC_RESPONSE.fields>

export const GOC: CommandSpec<GocRequest, GocResponse> = {
  id: 'GOC',
  encodeRequest: ({ GOC_TAGS1: t1, GOC_TAGS2: t2, ...params }) => [
    GOC_PARAMS.pack(params),
    GOC_TAGS1.pack({ GOC_TAGS1: t1 }),
    GOC_TAGS2.pack({ GOC_TAGS2: t2 }),
  ],
  decodeRequest: (blocks) => {
    if (blocks.length !== 3) throw new MalformedPacketError(`GOC expects 3 blocks, got ${blocks.length}`)
    return {
      ...GOC_PARAMS.unpack(blocks[0]!, 'GOC parameters'),
      ...GOC_TAGS1.unpack(blocks[1]!, 'GOC_TAGS1'),
      ...GOC_TAGS2.unpack(blocks[2]!, 'GOC_TAGS2'),
    }
  },
  encodeResponse: (res) => [GOC_RESPONSE.pack(res)],
  decodeResponse: (blocks) => {
    if (blocks.length !== 1) throw new MalformedPacketError(`GOC response expects one block, got ${blocks.length}`)
    return GOC_RESPONSE.unpack(blocks[0]!, 'GOC response')
  },
}

// §3.6.4 FNC: two command blocks (acquirer answer, tag list).
const FNC_PARAMS = record({
  FNC_COMMST: Nd(1),
  FNC_ISSMODE: Nd(1),
  FNC_ARC: A(2),
  FNC_ISSDAT: lenH(3, 512),
  FNC_ACQPR: lenText(3, 999),
})
const FNC_TAGS = record({ FNC_TAGS: lenH(3, 128) })
const FNC_RESPONSE = record({
  FNC_DECISION: Nd(1),
  FNC_EMVDAT: lenH(3, 512),
  FNC_ISR: lenH(2, 50),
  FNC_ACQRD: lenText(3, 999),
})

export type FncRequest = RecordOf<typeof FNC_PARAMS.fields> & { FNC_TAGS: string }
export type FncResponse = RecordOf<typeof FNC_RESPONSE.fields>

export const FNC: CommandSpec<FncRequest, FncResponse> = {
  id: 'FNC',
  encodeRequest: ({ FNC_TAGS: tags, ...params }) => [FNC_PARAMS.pack(params), FNC_TAGS.pack({ FNC_TAGS: tags })],
  decodeRequest: (blocks) => {
    if (blocks.length !== 2) throw new MalformedPacketError(`FNC expects 2 blocks, got ${blocks.length}`)
    return { ...FNC_PARAMS.unpack(blocks[0]!, 'FNC parameters'), ...FNC_TAGS.unpack(blocks[1]!, 'FNC_TAGS') }
  },
  encodeResponse: (res) => [FNC_RESPONSE.pack(res)],
  decodeResponse: (blocks) => {
    if (blocks.length !== 1) throw new MalformedPacketError(`FNC response expects one block, got ${blocks.length}`)
    return FNC_RESPONSE.unpack(blocks[0]!, 'FNC response')
  },
}
