/**
 * "Abecs" (TLV) command parameters (§3.1.3): host parameters SPE_* (0001h–0025h) and pinpad
 * data PP_* (8001h–93xxh), each with the format the specification gives it.
 */
import { A, B, N, Nd, X, listOf, varA, varB, varDisplay, varNd, varS, type Codec } from './fields.js'
import { buildTagList, parseTagList } from './emv-tlv.js'

export interface Param<T> {
  readonly id: number
  readonly codec: Codec<T>
}

const p = <T>(id: number, codec: Codec<T>): Param<T> => ({ id, codec })

/** SPE_TAGLIST and friends: EMV tags as hex text, concatenated on the wire. */
const tagList = (max: number): Codec<string[]> => {
  const bytes = varB(max)
  return {
    format: `B..${max} (tags)`,
    encode: (v, f) => bytes.encode(buildTagList(v), f),
    decode: (r, f) => parseTagList(bytes.decode(r, f)),
  }
}

export const SPE = {
  SPE_IDLIST: p(0x0001, listOf(X(2), 2, 64)),
  SPE_MTHDPIN: p(0x0002, Nd(1)),
  SPE_MTHDDAT: p(0x0003, Nd(2)),
  SPE_TAGLIST: p(0x0004, tagList(128)),
  SPE_EMVDATA: p(0x0005, varB(512)),
  SPE_CEXOPT: p(0x0006, A(6)),
  SPE_TRACKS: p(0x0007, Nd(4)),
  SPE_OPNDIG: p(0x0008, Nd(1)),
  SPE_KEYIDX: p(0x0009, N(2)),
  SPE_WKENC: p(0x000a, varB(16)),
  SPE_MSGIDX: p(0x000b, X(2)),
  SPE_TIMEOUT: p(0x000c, X(1)),
  SPE_MINDIG: p(0x000d, X(1)),
  SPE_MAXDIG: p(0x000e, X(1)),
  SPE_DATAIN: p(0x000f, varB(995)),
  SPE_ACQREF: p(0x0010, N(2)),
  SPE_APPTYPE: p(0x0011, listOf(N(2), 2, 10)),
  SPE_AIDLIST: p(0x0012, listOf(A(4), 4, 128)),
  SPE_AMOUNT: p(0x0013, N(12)),
  SPE_CASHBACK: p(0x0014, N(12)),
  SPE_TRNDATE: p(0x0015, Nd(6)),
  SPE_TRNTIME: p(0x0016, Nd(6)),
  SPE_GCXOPT: p(0x0017, Nd(5)),
  SPE_GOXOPT: p(0x0018, Nd(5)),
  SPE_FCXOPT: p(0x0019, Nd(4)),
  SPE_TRMPAR: p(0x001a, B(10)),
  SPE_DSPMSG: p(0x001b, varDisplay(128)),
  SPE_ARC: p(0x001c, A(2)),
  SPE_IVCBC: p(0x001d, B(8)),
  SPE_MFNAME: p(0x001e, A(8)),
  SPE_MFINFO: p(0x001f, B(10)),
  SPE_MNUOPT: p(0x0020, varS(24)),
  SPE_TRNTYPE: p(0x0021, X(1)),
  SPE_TRNCURR: p(0x0022, N(3)),
  SPE_PANMASK: p(0x0023, Nd(4)),
  SPE_PBKMOD: p(0x0024, B(256)),
  SPE_PBKEXP: p(0x0025, varB(3)),
  /** Spec 2.20 only: "0xxx" numeric, "1xxx" alphanumeric entry in GCD. */
  SPE_GCDOPT: p(0x0026, Nd(4)),
} as const

const nn = (n: number) => String(n).padStart(2, '0')
/** The indexed families, "PP_KSNTDESP14" = 910Eh and so on (§3.1.3.2). */
function indexed<T>(prefix: string, base: number, codec: Codec<T>): Record<string, Param<T>> {
  const out: Record<string, Param<T>> = {}
  for (let i = 0; i <= 99; i++) out[`${prefix}${nn(i)}`] = p(base + i, codec)
  return out
}

const PP_FIXED = {
  PP_SERNUM: p(0x8001, varA(32)),
  PP_PARTNBR: p(0x8002, varA(32)),
  PP_MODEL: p(0x8003, varA(20)),
  PP_MNNAME: p(0x8004, varA(20)),
  PP_CAPAB: p(0x8005, A(10)),
  PP_SOVER: p(0x8006, varA(20)),
  PP_SPECVER: p(0x8007, A(4)),
  PP_MANVERS: p(0x8008, A(16)),
  PP_APPVERS: p(0x8009, A(16)),
  PP_GENVERS: p(0x800a, A(16)),
  PP_KRNLVER: p(0x8010, varA(20)),
  PP_CTLSVER: p(0x8011, varA(20)),
  PP_MCTLSVER: p(0x8012, varA(20)),
  PP_VCTLSVER: p(0x8013, varA(20)),
  PP_AECTLSVER: p(0x8014, varA(20)),
  PP_DPCTLSVER: p(0x8015, varA(20)),
  PP_PUREVER: p(0x8016, varA(20)),
  PP_DSPTXTSZ: p(0x8020, Nd(4)),
  PP_DSPGRSZ: p(0x8021, Nd(8)),
  PP_MFSUP: p(0x8022, varA(20)),
  PP_MKDESP: p(0x8030, A(100)),
  PP_MKDESD: p(0x8031, A(100)),
  PP_MKTDESP: p(0x8032, A(100)),
  PP_MKTDESD: p(0x8033, A(100)),
  PP_DKPTDESP: p(0x8034, A(100)),
  PP_DKPTTDESP: p(0x8035, A(100)),
  PP_DKPTTDESD: p(0x8036, A(100)),
  PP_EVENT: p(0x8040, Nd(2)),
  PP_TRK1INC: p(0x8041, varA(60)),
  PP_TRK2INC: p(0x8042, varA(30)),
  PP_TRK3INC: p(0x8043, varA(30)),
  PP_TRACK1: p(0x8044, varB(88)),
  PP_TRACK2: p(0x8045, varB(28)),
  PP_TRACK3: p(0x8046, varB(60)),
  PP_TRK1KSN: p(0x8047, B(10)),
  PP_TRK2KSN: p(0x8048, B(10)),
  PP_TRK3KSN: p(0x8049, B(10)),
  PP_ENCPAN: p(0x804a, varB(16)),
  PP_ENCPANKSN: p(0x804b, B(10)),
  PP_KSN: p(0x804c, B(10)),
  PP_VALUE: p(0x804d, varA(32)),
  PP_DATAOUT: p(0x804e, varB(256)),
  PP_CARDTYPE: p(0x804f, Nd(2)),
  PP_ICCSTAT: p(0x8050, Nd(1)),
  PP_AIDTABINFO: p(0x8051, listOf(A(6), 6, 20)),
  // N..19, but masked digits (SPE_PANMASK, §5.4.1) are not digits.
  PP_PAN: p(0x8052, varA(19)),
  PP_PANSEQNO: p(0x8053, Nd(2)),
  PP_EMVDATA: p(0x8054, varB(512)),
  PP_CHNAME: p(0x8055, varA(26)),
  PP_GOXRES: p(0x8056, Nd(6)),
  PP_PINBLK: p(0x8057, B(8)),
  PP_FCXRES: p(0x8058, Nd(3)),
  PP_ISRESULTS: p(0x8059, varB(50)),
  PP_BIGRAND: p(0x805a, B(900)),
  PP_LABEL: p(0x805b, varS(16)),
  // N3, yet the specification's own GCX example sends 4 digits ("0076", 5F28 as BCD): accept both.
  PP_ISSCNTRY: p(0x805c, varNd(4)),
  PP_CARDEXP: p(0x805d, Nd(6)),
  PP_MFNAME: p(0x805e, A(8)),
  PP_DEVTYPE: p(0x8060, Nd(2)),
  PP_ENCKEY: p(0x8061, B(16)),
  PP_TLRMEM: p(0x8062, X(4)),
  PP_ENCKRAND: p(0x8063, B(256)),
} as const

type KsnName = `PP_KSNDESP${string}` | `PP_KSNTDESP${string}` | `PP_KSNTDESD${string}`
type TabVerName = `PP_TABVER${string}`

export const PP: typeof PP_FIXED & Record<KsnName, Param<Buffer>> & Record<TabVerName, Param<string>> = {
  ...PP_FIXED,
  ...indexed('PP_KSNDESP', 0x9000, B(10)),
  ...indexed('PP_KSNTDESP', 0x9100, B(10)),
  ...indexed('PP_KSNTDESD', 0x9200, B(10)),
  ...indexed('PP_TABVER', 0x9300, A(10)),
} as never

type ValueOf<P> = P extends Param<infer T> ? T : never
export type SpeParams = { -readonly [K in keyof typeof SPE]?: ValueOf<(typeof SPE)[K]> }
export type PpData = { -readonly [K in keyof typeof PP_FIXED]?: ValueOf<(typeof PP_FIXED)[K]> } & {
  [K in KsnName]?: Buffer
} & { [K in TabVerName]?: string }

export type SpeName = keyof typeof SPE
export type PpName = keyof typeof PP_FIXED | KsnName | TabVerName

/** Names by id, for decoding. */
export const SPE_BY_ID = new Map<number, string>(Object.entries(SPE).map(([name, { id }]) => [id, name]))
export const PP_BY_ID = new Map<number, string>(Object.entries(PP).map(([name, { id }]) => [id, name]))

/** PP_KSNTDESPnn id for a DUKPT:TDES:PIN key index (§3.1.3.2: PP_KSNTDESP14 = 910Eh). */
export const ksnTdesPinId = (keyIndex: number) => 0x9100 + keyIndex
export const tabVerId = (acquirer: number) => 0x9300 + acquirer
