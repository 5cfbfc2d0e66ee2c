/**
 * The log scanner's self-test: lines holding each kind of secret are caught, lines that look like
 * the bridge's real logs (masked keys, masked PANs, KSNs, redacted fields, timestamps) pass. A
 * scanner that catches nothing must not let the suite's log scan pass silently.
 */
import t from 'tap'
import { generateKeyPairSync } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { createScanner, describeFinding, maskSecret, scanDirectory, type FindingKind } from './scanner.js'
import { findCard, track1, track2, track2Equivalent, TEST_CARDS } from '../../src/simulator/cards.js'
import { createCardHash } from '../../src/card/card-hash.js'
import { maskEncryptionKey } from '../../src/acquirer/encryption-key.js'
import { maskPan } from '../../src/acquirer/sandbox/card-hash.js'
import { HostLink } from '../../src/abecs/link.js'
import { PinpadClient } from '../../src/abecs/client.js'
import { memoryPair } from '../../src/transport/byte-stream.js'
import { VirtualPinpad } from '../../src/simulator/virtual-pinpad.js'
import { factoryTables } from '../../src/simulator/defaults.js'
import { chipOnlinePin } from '../card/fixtures.js'
import { TYPED_VALUES } from '../fixtures/typed-values.js'

const scanner = createScanner()
const kinds = (line: string): FindingKind[] => [...new Set(scanner.scan(line).map((f) => f.kind))].sort()
const visa = findCard('visa-credit')
const maestro = findCard('maestro-debit')
const EK = 'ek_test_msSNokas032mAsdkmnklsspa4AdjzmcALl23'
/** A pino line around `fields`. */
const line = (fields: Record<string, unknown>, msg = 'x') =>
  JSON.stringify({ level: 30, time: 1767225600123, pid: 4242, hostname: 'till-01', name: 'mpos-bridge', ...fields, msg })

t.test('every test card number is caught, alone, inside longer strings, in hex, with blanks', async (t) => {
  for (const card of TEST_CARDS) {
    t.same(kinds(line({ pan: card.pan })), ['card field', 'card number'], `${card.name}: as a field`)
    t.same(kinds(line({ note: `xx${card.pan}99` })), ['card number'], `${card.name}: inside a longer string`)
  }
  t.same(kinds(`card ${visa.pan.replace(/(\d{4})(?!$)/g, '$1 ')} read`), ['card number'], 'grouped in fours')
  t.same(kinds(line({ data: `5A08${visa.pan}5F3401019F2608` })), ['card number'], 'in EMV data (BCD)')
  const f = scanner.scan(line({ id: visa.pan }))[0]!
  t.equal(f.masked, '4761…0010 (16)', 'reported masked')
  t.equal(f.detail, 'visa-credit', 'naming the card')
  t.notOk(JSON.stringify(scanner.scan(line({ id: visa.pan }))).includes(visa.pan), 'the report does not hold the number')
})

t.test('tracks 1 and 2, test cards or not', async (t) => {
  t.same(kinds(line({ data: track2(visa) })), ['card number', 'track 2'])
  t.same(kinds(line({ data: track2Equivalent(maestro).toString('hex') })), ['card number', 'track 2'], 'tag 57, lower-case hex with d')
  t.same(kinds(line({ data: track1(visa) })), ['card number', 'cardholder name', 'track 1'])
  t.same(kinds('t2 5105105105105100=30121010000000000'), ['track 2'], 'any Luhn-valid PAN followed by = and YYMM')
  t.same(kinds('t1 %B5105105105105100^DOE/JOHN^3012101'), ['track 1'], 'any format-B track 1')
  t.same(kinds(line({ ksn: 'FFFF9876543210E00001', data: '9F1A0200769F3303E0F8C8' })), [], 'a KSN and EMV tags are not tracks')
})

t.test('PIN blocks: the blocks the virtual pinpad really makes, clear blocks, PIN-block fields', async (t) => {
  // A virtual pinpad with its default DUKPT keys, as in the suite: three PIN entries for a test card.
  const [hostEnd, pinpadEnd] = memoryPair()
  const pad = new VirtualPinpad({ tables: factoryTables(), cardholder: { autoCard: null, autoPin: null, presentAfterMs: 10, pinAfterMs: 10, removeAfterMs: 10 } })
  pad.attach(pinpadEnd)
  const link = new HostLink(hostEnd, { ackTimeoutMs: 500, responseTimeoutMs: 2000 })
  t.teardown(async () => {
    pad.detach()
    await link.close()
  })
  const client = new PinpadClient(link)
  const blocks: string[] = []
  for (const card of [visa, maestro, visa]) {
    pad.cardholder.typePin('1234')
    const res = await client.call('GPN', {
      GPN_METHOD: '3',
      GPN_KEYIDX: 1,
      GPN_WKENC: '0'.repeat(32),
      GPN_PANLEN: card.pan.length,
      GPN_PAN: card.pan,
      entries: [{ GPN_MIN: 4, GPN_MAX: 12, GPN_MSG: 'DIGITE A SENHA' }],
    })
    blocks.push(res.GPN_PINBLK as string)
  }
  t.equal(new Set(blocks).size, 3, 'three different blocks')
  for (const [i, block] of blocks.entries()) {
    t.same(kinds(`{"msg":"x","blob":"${block}"}`), ['PIN block'], `entry ${i + 1}: upper case`)
    t.same(kinds(`{"msg":"x","blob":"00${block.toLowerCase()}ff"}`), ['PIN block'], `entry ${i + 1}: lower case, inside longer hex`)
    t.same(kinds(line({ b: Buffer.from(block, 'hex') })), ['PIN block'], `entry ${i + 1}: as a Buffer pino printed`)
  }
  t.match(scanner.scan(blocks[1]!)[0], { kind: 'PIN block', detail: /KSN …00002, PIN 1234, maestro-debit/ }, 'says which entry and card')
  t.ok(scanner.knownPinBlocks > 1024 * TEST_CARDS.length, `${scanner.knownPinBlocks} blocks known`)
  t.same(kinds(line({ PP_PINBLK: '0123456789ABCDEF' })), ['PIN block', 'card field'], 'an unknown block under a PIN-block key')
  t.same(kinds(line({ encPinBlock: 'A1B2C3D4E5F60718' })), ['PIN block'])
  t.same(kinds(line({ data: '041261DFFFEFEFEF' })), [], 'an unrelated 16-hex value')
  t.same(kinds(line({ data: chipOnlinePin().pin!.block })), ['PIN block'], "the card-hash fixtures' block")
})

t.test('card hashes, encryption keys, card fields, cardholder names', async (t) => {
  const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
  const hash = createCardHash(chipOnlinePin(), { id: 123456, publicKey: publicKey.export({ type: 'spki', format: 'pem' }).toString() })
  t.same(kinds(line({ result: hash })), ['card hash'], 'a card hash')
  t.same(kinds(line({ result: hash.split('_')[1] })), ['card hash'], 'its body without the id')
  t.same(kinds(line({ result: hash.slice(0, 80) })), ['card hash'], 'its first 80 characters')
  t.same(kinds(line({ card_hash: hash })), ['card field', 'card hash'])
  t.same(kinds(line({ tables: 'A0000000031010'.repeat(40) })), [], 'long hex is not Base64 output')

  t.same(kinds(line({ key: EK })), ['encryption key'])
  t.same(kinds(`Authorization for ek_live_Qx7ZpR3vT9sLm2Wn8Kd4Ll23 failed`), ['encryption key'])
  t.same(kinds(line({ encryption_key: EK })), ['card field', 'encryption key'])

  t.same(kinds('POST card_number=5105105105105100&card_expiration_date=1230'), ['card field'], 'form-encoded fields')
  t.same(kinds(line({ fields: { card_track_2: 'x', card_emv_data: '9F2608', card_holder_name: 'X Y' } })), ['card field'])
  t.equal(scanner.scan(line({ fields: { card_track_2: 'x', card_emv_data: '9F2608', card_holder_name: 'X Y' } })).length, 3, 'one finding per field')
  t.same(kinds(line({ PP_PAN: '5105105105105100' })), ['card field'])
  t.same(kinds(line({ who: 'ANA SILVA' })), ['cardholder name'], 'a holder name as displayed')
  t.same(kinds(line({ who: 'SILVA/ANA' })), ['cardholder name'], 'as on the card')
  t.same(kinds(line({ response: { value: TYPED_VALUES.cpf } })), ['typed value'], "a customer's typed CPF (pinpad_input)")
  t.same(kinds(line({ data: `804D000B${Buffer.from(TYPED_VALUES.ptyCpf).toString('latin1')}` })), ['typed value'], 'inside a GCD answer')
})

t.test('pairing secrets: tokens, codes, the admin secret', async (t) => {
  const token = `mpb_${'Zk3_-q'.repeat(7)}x`
  t.same(kinds(line({ response: { token, origin: 'http://localhost:5173' } })), ['pairing secret'], 'a token in an answer')
  t.same(kinds(`authenticate with ${token}`), ['pairing secret'], 'a token in text')
  t.same(kinds(line({ token: 'Qk3ZqP0aXb9YdE2fGh5iJk' })), ['pairing secret'], 'any long value of a token field')
  t.same(kinds(line({ command: 'pair', code: '042917' })), ['pairing secret'], 'a code as a request carries it')
  t.same(kinds('GET /x?code=042917'), ['pairing secret'])
  t.same(kinds(`authorization: Bearer ${'ab12'.repeat(16)}`), ['pairing secret'], "the admin route's secret")
  t.same(kinds(line({ command: 'pair', success: false, code: 'MPOS_ERR_PAIRING_CODE_WRONG', pairing: 3, origin: 'http://localhost:5173' })), [], 'what the pairing log lines hold')
  t.same(kinds(line({ expires_at: '2026-12-05T08:12:00.000Z', code: 'MPOS_ERR_RATE_LIMITED', status: 200, port: 204817 })), [])
})

t.test('what the real logs hold passes', async (t) => {
  const clean = [
    line({ component: 'bridge', device: '1', type: 'send', command: 'GOX', bytes: 180, attempt: 1 }, 'link'),
    line({ session: 's1', command: 'initialize', context: 'default', command_id: 't1', success: true, duration_ms: 35 }, 'command'),
    line({ req: 'GET /transactions/card_hash_key', key: maskEncryptionKey(EK), status: 200, attempt: 1, ms: 4 }, 'acquirer answered'),
    line({ key: maskEncryptionKey('ek_test_abc') }, 'short key'),
    line({ card: { card_number: '[redacted]', pan: '[redacted]', track2: '[redacted]', pinBlock: '[redacted]' }, card_hash: '[redacted]', encryption_key: '[redacted]' }),
    line({ card_number: maskPan(visa.pan), card_track_2: '[hidden, 37 characters]', card_pin: '[hidden, 16 characters]' }),
    line({ PP_TRK2INC: '476173******0010=3012201' }),
    line({ ksn: 'FFFF9876543210E00001', tables: 'ACQ01TAB0001', arqc: '8C71A63B82948CEB', emv: '9F1A0200769F3303E0F8C8' }),
    line({ res: { statusCode: 401 }, err: { message: 'invalid encryption key: the sandbox accepts only ek_test_ keys' } }),
    line({ message: 'card_hash lacks a valid card_number' }),
    line({ url: '/sandbox/1/terminal/updates?checksum=&dukpt_keys=[1]', reqId: 'req-1' }, 'incoming request'),
    line({ display: ['SELECIONADO:', 'VISA CREDITO'] }, 'display'),
    '{"level":10,"time":1767225600123,"pid":1,"hostname":"h","name":"simulator","command":"GCX","status":0,"msg":"response"}',
    'a line that is not JSON',
  ]
  for (const l of clean) t.same(scanner.scan(l), [], l.slice(0, 120))
})

t.test('a capture directory: every file and line, findings named by file and line, masked', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'mpos-log-scan-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  writeFileSync(path.join(dir, '100.ndjson'), `${line({ a: 1 })}\n${line({ b: 2 })}\n\n${line({ leak: visa.pan })}\n`)
  writeFileSync(path.join(dir, '200.ndjson'), `${JSON.stringify({ name: 'simulator', msg: 'ok' })}\n`)
  writeFileSync(path.join(dir, '300.ndjson'), '')
  writeFileSync(path.join(dir, 'notes.txt'), visa.pan)
  const report = await scanDirectory(dir, scanner)
  t.equal(report.files, 3)
  t.equal(report.lines, 4, 'empty lines do not count')
  t.same(report.findings.map(describeFinding), ['100.ndjson:4: card number 4761…0010 (16) (visa-credit)'])
  t.same([...report.filesByName], [['mpos-bridge', 1], ['simulator', 1]])
  t.equal((await scanDirectory(dir, scanner, { exclude: (f) => f === '100.ndjson' })).findings.length, 0, 'a file can be left out')
})

t.test('maskSecret keeps only the ends', async (t) => {
  t.equal(maskSecret('4761739001010010'), '4761…0010 (16)')
  t.equal(maskSecret('0123456789ABCDEF'), '0123…CDEF (16)')
  t.equal(maskSecret('ek_test_abcd'), 'ek…cd (12)')
  t.equal(maskSecret('1234'), '**** (4)')
})
