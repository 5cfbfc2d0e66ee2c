/**
 * A virtual pinpad as a terminal from the field has it (what `mpos-bridge simulate` starts with):
 * EMV tables of several acquirers under one unified version (§4.2.1) — 01 the sandbox acquirer's
 * default set (the bridge's), 02 one laid out like the acquirer of the SCOPE capture (record 01
 * Mastercard credit, 04 Visa credit…), 04 a smaller one — and key slots at the positions a Gertec
 * PPC-930 of that capture reported in GIX (MK/WK and DUKPT, PIN and data, 100 positions).
 *
 * Every key is a test key: MK:TDES:PIN and MK:TDES:DAT #nn are 0123456789ABCDEFFEDCBA98765432nn;
 * DUKPT registers derive from the ANSI test BDK 0123456789ABCDEFFEDCBA9876543210 with initial KSN
 * FFFF98765430nnE00000 (PIN) or FFFF98765431nnE00000 (data); DUKPT:TDES:PIN #01 keeps the bridge's
 * KSN FFFF9876543210E00000.
 */
import { DEFAULT_AIDS, DEFAULT_APPLICATIONS, DEFAULT_CAPKS, contentVersion } from '../tables/default-tables.js'
import type { AidEntry, ApplicationEntry, CapkEntry, EmvTables } from '../tables/types.js'
import type { KeySlotsConfig } from './key-store.js'
import { DEFAULT_DUKPT } from './virtual-pinpad.js'

const byAid = (aid: string) => DEFAULT_AIDS.find((a) => a.aid === aid)!

function aidsOf(acquirer: number, layout: Array<[number, string, 1 | 2, string]>): AidEntry[] {
  return layout.map(([record_index, aid, application_type, application_name]) => ({
    ...byAid(aid),
    acquirer_number: acquirer,
    record_index,
    application_type,
    application_name,
  }))
}

const capksOf = (acquirer: number): CapkEntry[] => DEFAULT_CAPKS.map((c) => ({ ...c, acquirer_number: acquirer }))

const BRANDS: Record<string, [string, ApplicationEntry['payment_method']]> = {
  A0000000041010: ['mastercard', 'credit_card'],
  A0000000043060: ['mastercard', 'debit_card'],
  A0000000031010: ['visa', 'credit_card'],
  A0000000032010: ['visa', 'debit_card'],
  A0000004941010: ['elo', 'credit_card'],
  A0000004942010: ['elo', 'debit_card'],
}

const appsOf = (aids: AidEntry[]): ApplicationEntry[] =>
  aids.map((a) => ({
    card_brand: BRANDS[a.aid]![0],
    payment_method: BRANDS[a.aid]![1],
    acquirer_number: a.acquirer_number,
    record_number: a.record_index,
    emv_tags: [...DEFAULT_APPLICATIONS[0]!.emv_tags],
  }))

// The SCOPE capture's GCX asked for "0201" and "0204" (credit) and got record 01 with Mastercard's AID.
const ACQUIRER_02 = aidsOf(2, [
  [1, 'A0000000041010', 1, 'CREDITO'],
  [2, 'A0000000043060', 2, 'DEBITO'],
  [3, 'A0000000032010', 2, 'DEBITO'],
  [4, 'A0000000031010', 1, 'CREDITO'],
  [5, 'A0000004941010', 1, 'CREDITO'],
  [6, 'A0000004942010', 2, 'DEBITO'],
])
const ACQUIRER_04 = aidsOf(4, [
  [1, 'A0000000031010', 1, 'VISA CREDITO'],
  [2, 'A0000000032010', 2, 'VISA DEBITO'],
  [3, 'A0000000041010', 1, 'MASTERCARD'],
  [4, 'A0000000043060', 2, 'MAESTRO'],
])

const CONTENT = {
  aids: [...DEFAULT_AIDS, ...ACQUIRER_02, ...ACQUIRER_04],
  capks: [...DEFAULT_CAPKS, ...capksOf(2), ...capksOf(4)],
  revoked_certificates: [],
  applications: [...DEFAULT_APPLICATIONS, ...appsOf(ACQUIRER_02), ...appsOf(ACQUIRER_04)],
}

export const FIELD_TABLES: EmvTables = { version: contentVersion(CONTENT), ...CONTENT }

/** The PPC-930's key maps in the capture (GIX 8032h, 8033h, 8035h, 8036h). */
const MAPS = {
  'MK:TDES:PIN': '00111000111111110000001100000100',
  'MK:TDES:DAT': '00101000111111111101011101100100',
  'DUKPT:TDES:PIN': '01110000101011101111111101100100',
  'DUKPT:TDES:DAT': '01000000101011101011101100000100',
} as const

const indexes = (map: string) => [...map].flatMap((c, i) => (c === '1' ? [String(i).padStart(2, '0')] : []))
const TEST_BDK = '0123456789ABCDEFFEDCBA9876543210'

export const FIELD_KEYS: KeySlotsConfig = {
  positions: 100,
  'MK:TDES:PIN': Object.fromEntries(indexes(MAPS['MK:TDES:PIN']).map((i) => [i, `0123456789ABCDEFFEDCBA98765432${i}`])),
  'MK:TDES:DAT': Object.fromEntries(indexes(MAPS['MK:TDES:DAT']).map((i) => [i, `0123456789ABCDEFFEDCBA98765432${i}`])),
  'DUKPT:TDES:PIN': Object.fromEntries(
    indexes(MAPS['DUKPT:TDES:PIN']).map((i) => [i, { bdk: TEST_BDK, ksn: i === '01' ? DEFAULT_DUKPT.initialKsn : `FFFF98765430${i}E00000` }]),
  ),
  'DUKPT:TDES:DAT': Object.fromEntries(indexes(MAPS['DUKPT:TDES:DAT']).map((i) => [i, { bdk: TEST_BDK, ksn: `FFFF98765431${i}E00000` }])),
}
