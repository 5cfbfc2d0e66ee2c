import t from 'tap'
import { SPEC_EXAMPLES } from '../fixtures/spec-examples.js'
import { decodeTableRecord, encodeTableRecord, splitTableRecords } from '../../src/abecs/tables.js'
import { DEFAULT_TABLES, contentVersion } from '../../src/tables/default-tables.js'
import { aidLayoutFor, aidRecord, buildTableRecords, capkChecksum, capkRecord, revokedRecord } from '../../src/tables/records.js'
import { schemaErrors, validateEmvTables } from '../../src/tables/schema.js'
import type { AidEntry, EmvTables } from '../../src/tables/types.js'

/** The records of a TLR command example: "TLR" + LEN(3) + NREC(2) + records. */
function tlrRecords(hex: string): Buffer[] {
  const block = Buffer.from(hex, 'hex').subarray(6)
  return splitTableRecords(block.subarray(2), Number(block.subarray(0, 2).toString('latin1')))
}

t.test('the default tables match their own schema', async (t) => {
  t.ok(validateEmvTables(DEFAULT_TABLES), validateEmvTables.errors ? schemaErrors(validateEmvTables, 'tables') : '')
  t.match(DEFAULT_TABLES.version, /^[0-9A-F]{10}$/, 'fits TLI_TABVER (A10)')
  t.equal(DEFAULT_TABLES.version, contentVersion(DEFAULT_TABLES), 'the version follows the content')
  t.not(contentVersion({ ...DEFAULT_TABLES, applications: [] }), DEFAULT_TABLES.version, 'and changes with it')
})

t.test('AIDs for the Brazilian brands', async (t) => {
  t.same(
    DEFAULT_TABLES.aids.map((a) => [a.aid, a.application_type, a.application_name]),
    [
      ['A0000000031010', 1, 'VISA CREDITO'],
      ['A0000000032010', 2, 'VISA ELECTRON'],
      ['A0000000041010', 1, 'MASTERCARD'],
      ['A0000000043060', 2, 'MAESTRO'],
      ['A0000004941010', 1, 'ELO CREDITO'],
      ['A0000004942010', 2, 'ELO DEBITO'],
      ['A00000002501', 1, 'AMEX'],
      ['A0000007291010', 1, 'HIPERCARD'],
    ],
  )
  for (const a of DEFAULT_TABLES.aids) {
    t.match(a, { country_code: '076', currency: '986', currency_exponent: 2, terminal_capabilities: 'E0F8C8', floor_limit: 0 }, a.aid)
  }
})

t.test('applications point at AID records of the right type', async (t) => {
  const byIndex = new Map(DEFAULT_TABLES.aids.map((a) => [`${a.acquirer_number}/${a.record_index}`, a]))
  t.equal(byIndex.size, DEFAULT_TABLES.aids.length, 'AID record indexes are unique per acquirer')
  t.equal(new Set(DEFAULT_TABLES.capks.map((c) => `${c.acquirer_number}/${c.record_index}`)).size, DEFAULT_TABLES.capks.length)
  for (const app of DEFAULT_TABLES.applications) {
    const aid = byIndex.get(`${app.acquirer_number}/${app.record_number}`)
    t.ok(aid, `${app.card_brand} ${app.payment_method}`)
    t.equal(aid?.application_type, app.payment_method === 'credit_card' ? 1 : 2)
    t.ok(app.emv_tags.includes('9F26') && app.emv_tags.includes('9F27'), 'cryptogram tags requested')
  }
  t.same(
    DEFAULT_TABLES.applications.map((a) => `${a.card_brand}:${a.payment_method}`),
    ['visa:credit_card', 'visa:debit_card', 'mastercard:credit_card', 'mastercard:debit_card', 'elo:credit_card', 'elo:debit_card', 'amex:credit_card', 'hipercard:credit_card'],
  )
})

t.test('test CAPKs: SHA-1(RID ‖ index ‖ modulus ‖ exponent) matches the published checksum', async (t) => {
  // The schemes' published check values, written here independently of the moduli.
  const published: Record<string, string> = {
    'A000000003/92': '429C954A3859CEF91295F663C963E582ED6EB253',
    'A000000003/94': 'C4A3C43CCF87327D136B804160E47D43B60E6E0F',
    'A000000003/95': 'EE1511CEC71020A9B90443B37B1D5F6E703030F6',
    'A000000003/99': '4ABFFD6B1C51212D05552E431C5B17007D2F5E6D',
    'A000000004/EF': '21766EBB0EE122AFB65D7845B73DB46BAB65427A',
    'A000000004/F1': 'D8E68DA167AB5A85D8C3D55ECB9B0517A1A5B4BB',
    'A000000004/F3': 'A69AC7603DAF566E972DEDC2CB433E07E8B01A9A',
    'A000000004/F8': 'F06ECC6D2AAEBF259B7E755A38D9A9B24E2FF3DD',
    'A000000004/FA': '5BED4068D96EA16D2D77E03D6036FC7A160EA99C',
    'A000000004/FE': '9A295B05FB390EF7923F57618A9FDA2941FC34E0',
    'A000000025/C8': '33BD7A059FAB094939B90A8F35845C9DC779BD50',
    'A000000025/C9': '8E8DFF443D78CD91DE88821D70C98F0638E51E49',
    'A000000025/CA': '6BDA32B1AA171444C7E8F88075A74FBFE845765F',
  }
  t.same(DEFAULT_TABLES.capks.map((c) => `${c.rid}/${c.index}`), Object.keys(published))
  for (const c of DEFAULT_TABLES.capks) {
    t.equal(capkChecksum(c), published[`${c.rid}/${c.index}`], `${c.rid}/${c.index}`)
    t.equal(c.checksum, published[`${c.rid}/${c.index}`])
    t.ok([128, 144, 176, 248].includes(c.modulus.length / 2), 'a usual CA key size')
    t.ok(parseInt(c.modulus.slice(0, 1), 16) >= 8, 'the modulus has its top bit set')
    t.ok(parseInt(c.modulus.slice(-1), 16) % 2 === 1, 'and is odd')
  }
})

t.test('records: 340-byte AIDs, 611-byte CAPKs, decoding back to the same fields', async (t) => {
  const records = buildTableRecords(DEFAULT_TABLES)
  t.same(records.map((r) => r.length), [...Array(8).fill(340), ...Array(13).fill(611)])
  for (const [i, aid] of DEFAULT_TABLES.aids.entries()) t.same(decodeTableRecord(records[i]!), aidRecord(aid))
  for (const [i, capk] of DEFAULT_TABLES.capks.entries()) t.same(decodeTableRecord(records[8 + i]!), capkRecord(capk))
  const visa = decodeTableRecord(records[0]!)
  t.match(visa, {
    TAB_ACQ: 1,
    TAB_RECIDX: '01',
    T1_AIDLEN: 7,
    T1_AID: 'A0000000031010000000000000000000',
    T1_APPVER1: '008C',
    T1_APPVER2: '0096',
    T1_APPVER3: '0096',
    T1_CTLSCVMLIM: '00004E20',
    T1_CTLSTRNLIM: '3B9AC9FF',
    T1_TDOLDEF: '9F02065F2A029A039C0195059F37040000000000',
    T1_DDOLDEF: '9F37040000000000000000000000000000000000',
    T1_CTLSTACDEF: 'DC4000A800',
    T1_CTLSTRMCP: 'E0F8C8',
    T1_MOBCVM: '1',
    T1_CTLSMBTLIM: '3B9AC9FF',
  })
  const capk = decodeTableRecord(records[8]!)
  t.match(capk, { T2_RID: 'A000000003', T2_CAPKIDX: '92', T2_EXPLEN: 1, T2_EXP: '030000', T2_MODLEN: 176, T2_CHKSTAT: '1' })
})

t.test('acquirerIndex 0 loads every acquirer, otherwise only that one', async (t) => {
  const second: AidEntry = { ...DEFAULT_TABLES.aids[0]!, acquirer_number: 2, record_index: 1 }
  const tables: EmvTables = {
    ...DEFAULT_TABLES,
    aids: [...DEFAULT_TABLES.aids, second],
    revoked_certificates: [{ acquirer_number: 2, record_index: 1, rid: 'A000000003', index: '92', serial_number: '123456' }],
  }
  t.equal(buildTableRecords(tables, 0).length, 8 + 1 + 13 + 1)
  t.equal(buildTableRecords(tables, 1).length, 8 + 13)
  t.same(buildTableRecords(tables, 2).map((r) => r.length), [340, 26])
  t.same(buildTableRecords(tables, 3), [])
})

t.test('byte-exact against the specification examples (§3.5.3)', async (t) => {
  const [capkExample, ...revokedExamples] = tlrRecords(SPEC_EXAMPLES.TLR_CAPK_REVOKED_COMMAND)
  const ef = DEFAULT_TABLES.capks.find((c) => c.index === 'EF')!
  t.same(encodeTableRecord(capkRecord({ ...ef, acquirer_number: 2, record_index: 13 })), capkExample, 'Mastercard test key EF')
  t.same(
    revokedExamples,
    [
      ['01', '444444'],
      ['97', '555555'],
      ['94', '666666'],
    ].map(([index, serial], i) =>
      encodeTableRecord(revokedRecord({ acquirer_number: 1, record_index: i + 1, rid: 'A000000003', index: index!, serial_number: serial! })),
    ),
  )

  // The first AID example is a 314-byte record; ours is 340 bytes with the same first 314 (after TAB_LEN).
  const [aidExample] = tlrRecords(SPEC_EXAMPLES.TLR_AID_COMMAND)
  const entry: AidEntry = {
    acquirer_number: 3,
    record_index: 1,
    aid: 'A0000000041010',
    application_type: 1,
    application_name: 'CTLESS--CREDITO',
    app_versions: ['0001', '0002', '0001'],
    country_code: '076',
    currency: '840',
    currency_exponent: 2,
    merchant_id: '020503000000004',
    mcc: '0000',
    terminal_id: '00000000',
    terminal_capabilities: 'E0F8E8',
    additional_terminal_capabilities: '7000F0F001',
    terminal_type: '22',
    tac_default: '205004A000',
    tac_denial: 'D800E80000',
    tac_online: '205004F800',
    floor_limit: 0,
    tcc: 'R',
    ctls_zero_amount: false,
    ctls_mode: '4',
    ctls_transaction_limit: 4999,
    ctls_floor_limit: 1499,
    ctls_cvm_limit: 2499,
    ctls_app_version: '1234',
    tdol: '9F02065F2A029A039C0195059F3704',
    ddol: '9F3704',
    ctls_tac_default: 'F000048000',
    ctls_tac_denial: '0000000000',
    ctls_tac_online: 'F000048000',
  }
  t.ok(validateEmvTables({ version: '1', aids: [entry], capks: [], applications: [] }))
  const ours = encodeTableRecord(aidRecord(entry))
  t.equal(ours.length, 340)
  t.equal(aidExample!.length, 314)
  t.same(ours.subarray(3, 314), aidExample!.subarray(3, 314))
  t.equal(ours.subarray(314).toString('latin1'), 'E0F8E8' + '0' + '7000F0F001' + '00001387' + '0', 'spec 2.12 fields default to the contact values')
})

t.test('the schema refuses what cannot be loaded', async (t) => {
  const bad: Array<[string, (x: any) => void, RegExp]> = [
    ['version of 11 characters', (x) => (x.version = 'ABCDEFGHIJK'), /tables\/version must match pattern/],
    ['empty version', (x) => (x.version = ''), /tables\/version/],
    ['non-ASCII version', (x) => (x.version = 'versão'), /tables\/version/],
    ['odd-length AID', (x) => (x.aids[0].aid = 'A00000000310101'), /tables\/aids\/0\/aid/],
    ['AID too short', (x) => (x.aids[0].aid = 'A000'), /tables\/aids\/0\/aid must NOT have fewer than 10 characters/],
    ['application type 0', (x) => (x.aids[0].application_type = 0), /application_type must be >= 1/],
    ['label of 17 characters', (x) => (x.aids[0].application_name = 'X'.repeat(17)), /application_name/],
    ['country of 2 digits', (x) => (x.aids[0].country_code = '76'), /country_code/],
    ['negative floor limit', (x) => (x.aids[0].floor_limit = -1), /floor_limit/],
    ['four app versions', (x) => (x.aids[0].app_versions = ['0001', '0002', '0003', '0004']), /app_versions/],
    ['TDOL over 20 bytes', (x) => (x.aids[0].tdol = '00'.repeat(21)), /tdol/],
    ['exponent 05', (x) => (x.capks[0].exponent = '05'), /capks\/0\/exponent must be equal to one of the allowed values/],
    ['modulus over 248 bytes', (x) => (x.capks[0].modulus = 'AB'.repeat(249)), /capks\/0\/modulus/],
    ['missing checksum', (x) => delete x.capks[0].checksum, /capks\/0 must have required property 'checksum'/],
    ['payment method pix', (x) => (x.applications[0].payment_method = 'pix'), /applications\/0\/payment_method/],
    ['record index 100', (x) => (x.applications[0].record_number = 100), /record_number must be <= 99/],
    ['no aids', (x) => delete x.aids, /must have required property 'aids'/],
  ]
  for (const [name, spoil, message] of bad) {
    const copy = structuredClone(DEFAULT_TABLES)
    spoil(copy)
    t.notOk(validateEmvTables(copy), name)
    t.match(schemaErrors(validateEmvTables, 'tables'), message, name)
  }
  const extra = { ...structuredClone(DEFAULT_TABLES), future_field: 1 }
  t.ok(validateEmvTables(extra), 'unknown fields from a newer acquirer are accepted')
})

t.test('AID records fit the pinpad: 284 bytes for 1.x, 314 for 2.0x, 340 for 2.1x (§4.1.1)', async (t) => {
  t.equal(aidLayoutFor('1.08'), 284)
  t.equal(aidLayoutFor('2.00'), 314)
  t.equal(aidLayoutFor('2.05'), 314)
  t.equal(aidLayoutFor('2.12'), 340)
  t.equal(aidLayoutFor('2.20'), 340)
  t.equal(aidLayoutFor('????'), 284, 'an unreadable version is treated as the oldest')
  for (const layout of [284, 314, 340] as const) {
    const records = buildTableRecords(DEFAULT_TABLES, 0, layout)
    const aids = records.filter((r) => r.subarray(3, 4).toString() === '1')
    t.equal(aids.length, DEFAULT_TABLES.aids.length)
    for (const r of aids) {
      t.equal(r.length, layout, `every AID record is ${layout} bytes`)
      t.equal(r.subarray(0, 3).toString(), String(layout), 'TAB_LEN says so')
      const decoded = decodeTableRecord(r)
      t.equal(decoded.TAB_ID, '1')
    }
    t.ok(records.some((r) => r.length === 611), 'CAPK records are the same for every layout')
  }
})
