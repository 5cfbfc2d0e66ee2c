/**
 * EMV table records (§4.1) as loaded with TLR: AID (T1, 284/314/340 bytes), CAPK (T2, 611)
 * and revoked certificates (T3, 26). Every record starts with TAB_LEN (N3, counting itself),
 * TAB_ID, TAB_ACQ and TAB_RECIDX.
 */
import { A, H, N, Nd, S, Reader, record, type RecordOf } from './fields.js'
import { MalformedPacketError } from '../errors.js'

const HEADER = record({ TAB_LEN: N(3), TAB_ID: Nd(1), TAB_ACQ: N(2), TAB_RECIDX: A(2) })

/** Fields up to T1_ARCOFFLN: the 284-byte record of BibComp. */
const AID_BASE = {
  T1_AIDLEN: N(2),
  T1_AID: H(32),
  T1_APPTYPE: N(2),
  T1_DEFLABEL: S(16),
  T1_ICCSTD: Nd(2),
  T1_APPVER1: H(4),
  T1_APPVER2: H(4),
  T1_APPVER3: H(4),
  T1_TRMCNTRY: Nd(3),
  T1_TRNCURR: Nd(3),
  T1_TRNCRREXP: N(1),
  T1_MERCHID: A(15),
  T1_MCC: Nd(4),
  T1_TRMID: A(8),
  T1_TRMCAPAB: H(6),
  T1_ADDTRMCP: H(10),
  T1_TRMTYP: Nd(2),
  T1_TACDEF: H(10),
  T1_TACDEN: H(10),
  T1_TACONL: H(10),
  T1_FLRLIMIT: H(8),
  T1_TCC: A(1),
  T1_CTLSZEROAM: A(1),
  T1_CTLSMODE: A(1),
  T1_CTLSTRNLIM: H(8),
  T1_CTLSFLRLIM: H(8),
  T1_CTLSCVMLIM: H(8),
  T1_CTLSAPPVER: H(4),
  T1_RUF1: Nd(1),
  T1_TDOLDEF: H(40),
  T1_DDOLDEF: H(40),
  T1_ARCOFFLN: A(8),
}
/** Added in spec 2.0x (314 bytes). */
const AID_V20 = {
  T1_CTLSTACDEF: H(10),
  T1_CTLSTACDEN: H(10),
  T1_CTLSTACONL: H(10),
}
/** Added in this specification (340 bytes). */
const AID_V212 = {
  T1_CTLSTRMCP: H(6),
  T1_MOBCVM: Nd(1),
  T1_CTLSADDTC: H(10),
  T1_CTLSMBTLIM: H(8),
  T1_CTLSISSSCR: Nd(1),
}
const AID_284 = record(AID_BASE)
const AID_314 = record(AID_V20)
const AID_340 = record(AID_V212)

const CAPK = record({
  T2_RID: H(10),
  T2_CAPKIDX: H(2),
  T2_RUF1: Nd(2),
  T2_EXPLEN: N(1),
  T2_EXP: H(6),
  T2_MODLEN: N(3),
  T2_MOD: H(496),
  T2_CHKSTAT: Nd(1),
  T2_CHECKSUM: H(40),
  T2_RUF2: Nd(42),
})

const REVOKED = record({ T3_RID: H(10), T3_CAPKIDX: H(2), T3_CERTSN: H(6) })

type Header = { TAB_ACQ: number; TAB_RECIDX: string }
export type AidRecord = Header & { TAB_ID: '1' } & RecordOf<typeof AID_BASE> & Partial<RecordOf<typeof AID_V20>> &
  Partial<RecordOf<typeof AID_V212>>
export type CapkRecord = Header & { TAB_ID: '2' } & RecordOf<typeof CAPK.fields>
export type RevokedRecord = Header & { TAB_ID: '3' } & RecordOf<typeof REVOKED.fields>
export type TableRecord = AidRecord | CapkRecord | RevokedRecord

const AID_SIZES = [284, 314, 340] as const

function body(rec: TableRecord): Buffer {
  switch (rec.TAB_ID) {
    case '1': {
      const parts = [AID_284.pack(rec)]
      const v20 = rec.T1_CTLSTACDEF !== undefined
      const v212 = rec.T1_CTLSTRMCP !== undefined
      if (v20 || v212) parts.push(AID_314.pack(rec as RecordOf<typeof AID_V20>))
      if (v212) parts.push(AID_340.pack(rec as RecordOf<typeof AID_V212>))
      return Buffer.concat(parts)
    }
    case '2':
      return CAPK.pack(rec)
    case '3':
      return REVOKED.pack(rec)
  }
}

/** Encodes one record, TAB_LEN included. */
export function encodeTableRecord(rec: TableRecord): Buffer {
  const data = body(rec)
  const head = HEADER.pack({ TAB_LEN: data.length + 8, TAB_ID: rec.TAB_ID, TAB_ACQ: rec.TAB_ACQ, TAB_RECIDX: rec.TAB_RECIDX })
  return Buffer.concat([head, data])
}

/** Decodes one record (TAB_LEN included). AID records longer than 340 bytes keep their known part (§4.1.1). */
export function decodeTableRecord(buf: Buffer): TableRecord {
  const r = new Reader(buf)
  const head = HEADER.decode(r, 'table record')
  if (head.TAB_LEN !== buf.length) throw new MalformedPacketError(`TAB_LEN ${head.TAB_LEN} but the record has ${buf.length} bytes`)
  const { TAB_ACQ, TAB_RECIDX } = head
  switch (head.TAB_ID) {
    case '1': {
      if (head.TAB_LEN < 284 || (head.TAB_LEN < 340 && !AID_SIZES.includes(head.TAB_LEN as 284))) {
        throw new MalformedPacketError(`AID record of ${head.TAB_LEN} bytes (284, 314, 340 or more)`)
      }
      let rec: Record<string, unknown> = AID_284.decode(r, 'AID record')
      if (head.TAB_LEN >= 314) rec = { ...rec, ...AID_314.decode(r, 'AID record') }
      if (head.TAB_LEN >= 340) rec = { ...rec, ...AID_340.decode(r, 'AID record') }
      return { TAB_ID: '1', TAB_ACQ, TAB_RECIDX, ...rec } as AidRecord
    }
    case '2':
      if (head.TAB_LEN !== 611) throw new MalformedPacketError(`CAPK record of ${head.TAB_LEN} bytes (611)`)
      return { TAB_ID: '2', TAB_ACQ, TAB_RECIDX, ...CAPK.unpack(r.rest(), 'CAPK record') }
    case '3':
      if (head.TAB_LEN !== 26) throw new MalformedPacketError(`revoked-certificate record of ${head.TAB_LEN} bytes (26)`)
      return { TAB_ID: '3', TAB_ACQ, TAB_RECIDX, ...REVOKED.unpack(r.rest(), 'revoked-certificate record') }
    default:
      throw new MalformedPacketError(`TAB_ID ${head.TAB_ID} is not 1, 2 or 3`)
  }
}

/** Splits concatenated records by their TAB_LEN. */
export function splitTableRecords(data: Buffer, count: number): Buffer[] {
  const out: Buffer[] = []
  let pos = 0
  for (let i = 0; i < count; i++) {
    const len = data.subarray(pos, pos + 3).toString('latin1')
    if (!/^\d{3}$/.test(len)) throw new MalformedPacketError(`record ${i + 1}: TAB_LEN ${JSON.stringify(len)}`)
    const n = Number(len)
    if (n < 8 || pos + n > data.length) throw new MalformedPacketError(`record ${i + 1} of ${n} bytes runs past the data`)
    out.push(data.subarray(pos, pos + n))
    pos += n
  }
  if (pos !== data.length) throw new MalformedPacketError(`${data.length - pos} bytes after ${count} records`)
  return out
}

/** Left-aligned hex padded with '0' to the field size (T1_AID, T2_EXP, T2_MOD). */
export function padHex(hex: string, size: number): string {
  return hex.toUpperCase().padEnd(size, '0')
}
