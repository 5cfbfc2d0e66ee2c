/**
 * Stored EMV tables → ABECS table records (§4.1) for TLR: 340-byte AID records (spec 2.12
 * layout), 611-byte CAPK records and 26-byte revoked-certificate records.
 */
import { createHash } from 'node:crypto'
import {
  encodeTableRecord,
  padHex,
  type AidRecord,
  type CapkRecord,
  type RevokedRecord,
} from '../abecs/tables.js'
import type { AidEntry, CapkEntry, EmvTables, RevokedCertificateEntry } from './types.js'

const recIdx = (n: number) => String(n).padStart(2, '0')
/** H8 amounts (T1_FLRLIMIT, T1_CTLS*LIM) are the cents as a 4-byte binary number, in hex. */
const hex8 = (cents: number) => cents.toString(16).toUpperCase().padStart(8, '0')
const flag = (b: boolean | undefined) => (b ? '1' : '0')

export function aidRecord(e: AidEntry): AidRecord {
  const versions = e.app_versions
  const version = (i: number) => (versions[Math.min(i, versions.length - 1)] ?? '0000').toUpperCase()
  return {
    TAB_ID: '1',
    TAB_ACQ: e.acquirer_number,
    TAB_RECIDX: recIdx(e.record_index),
    T1_AIDLEN: e.aid.length / 2,
    T1_AID: padHex(e.aid, 32),
    T1_APPTYPE: e.application_type,
    T1_DEFLABEL: e.application_name,
    T1_ICCSTD: '03',
    T1_APPVER1: version(0),
    T1_APPVER2: version(1),
    T1_APPVER3: version(2),
    T1_TRMCNTRY: e.country_code,
    T1_TRNCURR: e.currency,
    T1_TRNCRREXP: e.currency_exponent,
    T1_MERCHID: e.merchant_id ?? '',
    T1_MCC: e.mcc,
    T1_TRMID: e.terminal_id,
    T1_TRMCAPAB: e.terminal_capabilities,
    T1_ADDTRMCP: e.additional_terminal_capabilities,
    T1_TRMTYP: e.terminal_type,
    T1_TACDEF: e.tac_default,
    T1_TACDEN: e.tac_denial,
    T1_TACONL: e.tac_online,
    T1_FLRLIMIT: hex8(e.floor_limit),
    T1_TCC: e.tcc,
    T1_CTLSZEROAM: flag(e.ctls_zero_amount),
    T1_CTLSMODE: e.ctls_mode,
    T1_CTLSTRNLIM: hex8(e.ctls_transaction_limit),
    T1_CTLSFLRLIM: hex8(e.ctls_floor_limit),
    T1_CTLSCVMLIM: hex8(e.ctls_cvm_limit),
    T1_CTLSAPPVER: e.ctls_app_version,
    T1_RUF1: '0',
    T1_TDOLDEF: padHex(e.tdol, 40),
    T1_DDOLDEF: padHex(e.ddol, 40),
    // Ignored by the pinpad since EMV 4.0; §4.1.1 asks for this value by convention.
    T1_ARCOFFLN: 'Y1Z1Y3Z3',
    // Absent optional fields take the defaults §4.1.1 gives the pinpad, written out explicitly.
    T1_CTLSTACDEF: e.ctls_tac_default ?? e.tac_default,
    T1_CTLSTACDEN: e.ctls_tac_denial ?? e.tac_denial,
    T1_CTLSTACONL: e.ctls_tac_online ?? e.tac_online,
    T1_CTLSTRMCP: e.ctls_terminal_capabilities ?? e.terminal_capabilities,
    T1_MOBCVM: flag(e.mobile_cvm),
    T1_CTLSADDTC: e.ctls_additional_terminal_capabilities ?? e.additional_terminal_capabilities,
    T1_CTLSMBTLIM: hex8(e.ctls_mobile_transaction_limit ?? e.ctls_transaction_limit),
    T1_CTLSISSSCR: flag(e.ctls_issuer_scripts),
  }
}

export function capkRecord(e: CapkEntry): CapkRecord {
  return {
    TAB_ID: '2',
    TAB_ACQ: e.acquirer_number,
    TAB_RECIDX: recIdx(e.record_index),
    T2_RID: e.rid,
    T2_CAPKIDX: e.index,
    T2_RUF1: '00',
    T2_EXPLEN: e.exponent.length / 2,
    T2_EXP: padHex(e.exponent, 6),
    T2_MODLEN: e.modulus.length / 2,
    T2_MOD: padHex(e.modulus, 496),
    T2_CHKSTAT: '1',
    T2_CHECKSUM: e.checksum,
    T2_RUF2: '0'.repeat(42),
  }
}

export function revokedRecord(e: RevokedCertificateEntry): RevokedRecord {
  return {
    TAB_ID: '3',
    TAB_ACQ: e.acquirer_number,
    TAB_RECIDX: recIdx(e.record_index),
    T3_RID: e.rid,
    T3_CAPKIDX: e.index,
    T3_CERTSN: e.serial_number,
  }
}

/** The AID record sizes of §4.1.1: BibComp (1.x pinpads), spec 2.0x, and this specification. */
export type AidLayout = 284 | 314 | 340

/** The largest AID record a pinpad of this ABECS version knows (§4.1.1): older ones ignore bigger records. */
export function aidLayoutFor(specVersion: string): AidLayout {
  const v = Number.parseFloat(specVersion)
  if (!Number.isFinite(v) || v < 2) return 284
  return v < 2.1 ? 314 : 340
}

/** Drops the fields a smaller layout does not have (encodeTableRecord sizes the record by them). */
function fitAid(record: AidRecord, layout: AidLayout): AidRecord {
  if (layout === 340) return record
  const { T1_CTLSTRMCP: _a, T1_MOBCVM: _b, T1_CTLSADDTC: _c, T1_CTLSMBTLIM: _d, T1_CTLSISSSCR: _e, ...v20 } = record
  if (layout === 314) return v20
  const { T1_CTLSTACDEF: _f, T1_CTLSTACDEN: _g, T1_CTLSTACONL: _h, ...bibcomp } = v20
  return bibcomp
}

/**
 * The records to load with TLR, AIDs first, then CAPKs, then revoked certificates.
 * `acquirerIndex` is TLI_ACQIDX: 0 loads every acquirer's records (TLI "00" replaces all
 * tables), otherwise only that acquirer's. `aidLayout` fits the AID records to the pinpad.
 */
export function buildTableRecords(tables: EmvTables, acquirerIndex = 0, aidLayout: AidLayout = 340): Buffer[] {
  const mine = (e: { acquirer_number: number }) => acquirerIndex === 0 || e.acquirer_number === acquirerIndex
  return [
    ...tables.aids.filter(mine).map((e) => encodeTableRecord(fitAid(aidRecord(e), aidLayout))),
    ...tables.capks.filter(mine).map((e) => encodeTableRecord(capkRecord(e))),
    ...(tables.revoked_certificates ?? []).filter(mine).map((e) => encodeTableRecord(revokedRecord(e))),
  ]
}

/** EMV Book 2 CAPK check value: SHA-1 over RID ‖ index ‖ modulus ‖ exponent, upper-case hex. */
export function capkChecksum(capk: Pick<CapkEntry, 'rid' | 'index' | 'modulus' | 'exponent'>): string {
  return createHash('sha1')
    .update(Buffer.from(capk.rid + capk.index + capk.modulus + capk.exponent, 'hex'))
    .digest('hex')
    .toUpperCase()
}
