/**
 * The virtual pinpad against the specification, driven byte by byte by a scripted host over the
 * in-memory pair: the pinpad side of the link layer (§2.2.2, §6.2.1), the application layer
 * (§2.3, §6.2.2) and the answers of the control, display and table commands (§3.2–3.5, §6.4–6.7).
 * Where §3 gives a worked example, its command bytes are sent and the answer's fields compared.
 * In virtual time (a ManualClock drives the pinpad, its cardholder and the pair): the 500 ms
 * silence and the 2 s inter-byte timeout cost nothing and are checked to the millisecond.
 */
import t from 'tap'
import { ScriptedHost, virtualPinpadWithHost } from '../helpers/scripted-host.js'
import { hex, ascii } from '../helpers/hex.js'
import { example } from '../fixtures/spec-examples.js'
import { COMMANDS, type CommandSpec } from '../../src/abecs/commands/index.js'
import { decodeResponse, encodeCommand } from '../../src/abecs/packet.js'
import { abecsCrc } from '../../src/abecs/crc.js'
import { ACK, CAN, EOT, NAK } from '../../src/abecs/control.js'
import { encodeTableRecord, decodeTableRecord } from '../../src/abecs/tables.js'
import { VirtualPinpad, type VirtualPinpadOptions } from '../../src/simulator/virtual-pinpad.js'
import { factoryTables } from '../../src/simulator/defaults.js'
import { ManualClock } from '../helpers/manual-clock.js'

const spec = (id: string) => (COMMANDS as Record<string, CommandSpec<any, any>>)[id]!
/** A command packet built with the command's layout. */
const cmd = (id: string, request: unknown): Buffer => encodeCommand(id, spec(id).encodeRequest(request))
/** The fields of a successful answer. */
const fieldsOf = (answer: Buffer, request: unknown = {}): any => {
  const packet = decodeResponse(answer)
  return spec(packet.id).decodeResponse(packet.blocks, request, packet.status)
}
const text = (b: Buffer) => b.toString('latin1')

/** TLV items of a response, in order, as [id, value] (repeats kept). */
function items(answer: Buffer): Array<[number, Buffer]> {
  const out: Array<[number, Buffer]> = []
  for (const block of decodeResponse(answer).blocks) {
    for (let pos = 0; pos < block.length; ) {
      const id = block.readUInt16BE(pos)
      const len = block.readUInt16BE(pos + 2)
      out.push([id, block.subarray(pos + 4, pos + 4 + len)])
      pos += 4 + len
    }
  }
  return out
}

/** A quiet cardholder (nobody acts unless the test says so) and a short NAK silence. */
const QUIET: VirtualPinpadOptions = {
  link: { silenceMs: 100 },
  cardholder: { autoCard: null, autoPin: null, presentAfterMs: 20, pinAfterMs: 20, removeAfterMs: 20 },
}
function setup(t: Parameters<typeof virtualPinpadWithHost>[0], options: VirtualPinpadOptions = {}) {
  const clock = new ManualClock()
  t.teardown(clock.autoAdvance())
  return { ...virtualPinpadWithHost(t, { ...QUIET, clock, ...options }), clock }
}

const GCX_WAIT = cmd('GCX', { SPE_TRNDATE: '260115', SPE_TRNTIME: '101500', SPE_AMOUNT: 1000 })

/** Sends a blocking GCX and waits for its first NTM, proof that it is waiting for a card. */
async function startGcx(host: ScriptedHost): Promise<void> {
  host.send(GCX_WAIT)
  if ((await host.nextControl()).byte !== ACK) throw new Error('GCX was not ACKed')
  const ntm = text(await host.nextPacket())
  if (!ntm.startsWith('NTM000032')) throw new Error(`expected an NTM, got ${ntm}`)
}

t.test('link layer (§2.2.2, §6.2.1)', async (t) => {
  t.test('a good packet is ACKed, then answered (§2.2.2.1 example bytes)', async (t) => {
    const { host, pad } = setup(t)
    host.write(hex('16 4F 50 4E 17 A8 A9'))
    t.equal((await host.nextControl()).byte, ACK)
    t.equal(text(await host.nextPacket()), 'OPN000')
    // ACK, then SYN "OPN000" ETB and its CRC 775Eh.
    t.same(host.takeRaw(), hex('06 16 4F 50 4E 30 30 30 17 77 5E'), 'exact bytes on the wire')
    t.ok(pad.opened)
  })

  t.test('a bad CRC is NAKed only after 500 ms of silence, then the resend is ACKed (§2.2.2.1 example)', async (t) => {
    const { host, clock } = setup(t, { link: {} })
    const sentAt = clock.now()
    host.write(hex('16 4F 50 4E 17 00 00'))
    const nak = await host.nextControl()
    t.equal(nak.byte, NAK)
    t.equal(nak.at - sentAt, 500, 'NAK after 500 ms of silence (§6.2.1)')
    t.ok(await host.quiet(50), 'nothing but the NAK')
    host.write(hex('16 4F 50 4E 17 A8 A9'))
    t.equal((await host.nextControl()).byte, ACK)
    t.equal(text(await host.nextPacket()), 'OPN000')
  })

  t.test('the silence is configurable and starts again with every byte received', async (t) => {
    const { host, clock } = setup(t, { link: { silenceMs: 200 } })
    host.write(hex('16 4F 50 4E 17 00 00'))
    await clock.sleep(120)
    const noiseAt = clock.now()
    host.write([0x41, 0x42]) // line noise before the silence elapsed
    const nak = await host.nextControl()
    t.equal(nak.byte, NAK)
    t.equal(nak.at - noiseAt, 200, 'NAK 200 ms after the last byte (silenceMs 200)')
    t.ok(await host.quiet(300), 'a single NAK')
  })

  t.test('NAK while idle: the last response is sent again, byte for byte', async (t) => {
    const { host } = setup(t)
    t.equal(await host.ask('OPN'), 'OPN000')
    t.equal(await host.ask(example('DSP_COMMAND')), 'DSP000')
    host.takeRaw()
    host.write([NAK])
    t.equal(text(await host.nextPacket()), 'DSP000')
    const first = host.takeRaw()
    host.write([NAK])
    t.equal(text(await host.nextPacket()), 'DSP000')
    t.same(host.takeRaw(), first, 'the same frame each time')
    t.same(first, hex('16 44 53 50 30 30 30 17 39 63'), 'DSP000 with CRC 3963h (§2.2.2.2 example)')
  })

  t.test('NAK with no previous response is ignored', async (t) => {
    const { host } = setup(t)
    host.write([NAK])
    t.ok(await host.quiet(300), 'no answer to a NAK out of the blue')
    t.equal(await host.ask('OPN'), 'OPN000', 'the pinpad still works')
  })

  t.test('CAN always draws EOT, even when idle', async (t) => {
    const { host } = setup(t)
    for (let i = 0; i < 3; i++) {
      host.write([CAN])
      t.equal((await host.nextControl()).byte, EOT, `CAN ${i + 1}`)
    }
    t.ok(await host.quiet(200), 'EOT only')
    t.equal(await host.ask('OPN'), 'OPN000')
  })

  t.test('CAN aborts a GCX waiting for a card: EOT and no response, ever', async (t) => {
    const { host, pad } = setup(t)
    await startGcx(host)
    host.write([CAN])
    t.equal((await host.nextControl()).byte, EOT)
    pad.cardholder.present('visa-credit', 'insert') // too late: nobody is waiting any more
    t.ok(await host.quiet(400), 'no GCX response after the cancellation')
    t.equal(pad.cardholder.inserted, undefined, 'the card was never read')
    t.equal(await host.ask('GIN00200').then((a) => a.slice(0, 9)), 'GIN000100', 'the next command is served')
  })

  t.test('a new valid command aborts a running GCX; only the new one is answered', async (t) => {
    const { host, pad } = setup(t)
    await startGcx(host)
    t.equal(await host.ask('OPN'), 'OPN000')
    pad.cardholder.present('visa-credit', 'insert')
    t.ok(await host.quiet(400), 'no GCX response')
  })

  t.test('a packet stalled for more than 2 s mid-way is dropped and NAKed', async (t) => {
    const { host, clock } = setup(t, { link: {} })
    const sentAt = clock.now()
    host.write(hex('16 4F 50')) // SYN "OP"… and nothing more
    const nak = await host.nextControl(4000)
    t.equal(nak.byte, NAK)
    // §2.2.2: the packet is dropped 2 s after its last byte; the 500 ms of silence (§6.2.1), counted
    // from that byte too, are over: the NAK goes at once (a 0 ms timer, which Node runs 1 ms later).
    t.equal(nak.at - sentAt, 2001, 'NAK 2 s after the last byte (inter-byte timeout)')
    host.write(hex('4E 17 A8 A9')) // the rest of the packet, too late: noise now
    t.ok(await host.quiet(300), 'the late tail is not taken as a packet')
    t.equal(await host.ask('OPN'), 'OPN000')
  })

  t.test('DC3 escaping: 13h, 16h and 17h inside a response go out as 13 33, 13 36, 13 37', async (t) => {
    // Item lengths of 19 (13h), 22 (16h) and 23 (17h) bytes put those bytes into the response.
    const { host } = setup(t, {
      identity: { manufacturer: 'M'.repeat(19), serialNumber: 'S'.repeat(22), partNumber: 'P'.repeat(23) },
    })
    // 11 ids make SPE_IDLIST 22 bytes long: the command itself carries an escaped 16h.
    const request = cmd('GIX', { SPE_IDLIST: [0x8004, 0x8001, 0x8002, ...Array(8).fill(0x8004)] })
    t.ok(request.includes(0x16), 'the command carries 16h')
    const answer = await host.command(request)
    const raw = host.takeRaw()
    const got = items(answer)
    t.same(
      got.slice(0, 3).map(([id, v]) => [id, text(v)]),
      [
        [0x8004, 'M'.repeat(19)],
        [0x8001, 'S'.repeat(22)],
        [0x8002, 'P'.repeat(23)],
      ],
    )
    t.equal(got.length, 11, 'every id asked, repeats included')
    const body = raw.subarray(raw.indexOf(0x16) + 1, raw.lastIndexOf(0x17))
    t.ok(body.includes(hex('80 04 00 13 33')), '13h escaped as 13 33')
    t.ok(body.includes(hex('80 01 00 13 36')), '16h escaped as 13 36')
    t.ok(body.includes(hex('80 02 00 13 37')), '17h escaped as 13 37')
    t.notOk([...body].some((b) => b === 0x16 || b === 0x17), 'no bare SYN or ETB inside the packet')
  })

  t.test('the CRC bytes are never escaped, even when they are 13h, 16h or 17h', async (t) => {
    // Find a serial number whose GIN "00" answer has such a CRC byte.
    let found: { serialNumber: string; crc: number } | undefined
    const ctx = { signal: new AbortController().signal, notify: () => {} }
    for (let i = 0; i < 3000 && !found; i++) {
      const serialNumber = `VPP${String(i).padStart(13, '0')}`
      const response = await new VirtualPinpad({ identity: { serialNumber } }).handle(ascii('GIN00200'), ctx)
      const crc = abecsCrc(response!, 0x17)
      if ([0x13, 0x16, 0x17].includes(crc >> 8) || [0x13, 0x16, 0x17].includes(crc & 0xff)) found = { serialNumber, crc }
    }
    if (!found) throw new Error('no serial number gives such a CRC')
    const { host } = setup(t, { identity: { serialNumber: found.serialNumber } })
    const answer = await host.command('GIN00200')
    t.ok(text(answer).includes(found.serialNumber), 'the answer of that pinpad')
    const raw = host.takeRaw()
    t.same(raw.subarray(-3), Buffer.of(0x17, found.crc >> 8, found.crc & 0xff), 'ETB, then the two CRC bytes as they are')
  })
})

t.test('application layer (§2.3, §6.2.2)', async (t) => {
  t.test('"OPN" and "OPN000" are both accepted (§6.4.1)', async (t) => {
    const { host } = setup(t)
    t.equal(await host.ask('OPN'), 'OPN000')
    t.equal(await host.ask('OPN000'), 'OPN000')
  })

  t.test('a command without a previous OPN is served as if OPN had been sent (§6.4.1)', async (t) => {
    const { host, pad } = setup(t)
    t.notOk(pad.opened)
    t.equal((await host.ask('GIN00200')).slice(0, 9), 'GIN000100')
    t.ok(pad.opened)
  })

  t.test('an unknown command is answered ERR010 (§2.3.4)', async (t) => {
    const { host } = setup(t)
    host.write(hex('16 55 4E 4B 17 7C 32')) // "UNK", CRC 7C32h
    t.equal((await host.nextControl()).byte, ACK)
    t.equal(text(await host.nextPacket()), 'ERR010')
    t.equal(await host.ask('XYZ003abc'), 'ERR010')
  })

  t.test('"Abecs" (TLV) commands on a spec 1.08 pinpad are unknown: ERR010', async (t) => {
    const { host } = setup(t, { identity: { specVersion: '1.08' } })
    t.equal(await host.ask('GIX'), 'ERR010')
    t.equal(await host.ask(example('CLX_COMMAND')), 'ERR010')
    t.equal(await host.ask(GCX_WAIT), 'ERR010')
    t.equal(await host.ask(cmd('GED', { SPE_TAGLIST: ['9F26'] })), 'ERR010')
    t.equal(await host.ask(cmd('GTK', {})), 'ERR010')
    const gin = await host.ask('GIN00200')
    t.equal(gin.slice(9 + 20 + 19 + 1 + 20, 9 + 20 + 19 + 1 + 20 + 4), '1.08', 'the classic commands still work and report 1.08')
  })

  t.test('malformed parameters: xxx011 (ST_INVPARM)', async (t) => {
    const { host } = setup(t)
    t.equal(await host.ask('GIN0010'), 'GIN011', 'GIN_ACQIDX of 1 digit')
    t.equal(await host.ask('GIN002X1'), 'GIN011', 'GIN_ACQIDX not numeric')
    t.equal(await host.ask('GIN0A200'), 'GIN011', 'CMD_LEN1 not N3')
    t.equal(await host.ask('GIN00500'), 'GIN011', 'CMD_LEN1 past the end of the packet')
    t.equal(await host.ask('GTS003001'), 'GTS011', 'GTS_ACQIDX of 3 digits')
    t.equal(await host.ask(Buffer.concat([ascii('GIX007'), hex('0001 0003 800180')])), 'GIX011', 'SPE_IDLIST of odd size (§6.4.3)')
    t.equal(await host.ask(Buffer.concat([ascii('GIX006'), hex('0001 0004 8001')])), 'GIX011', 'a TLV item running past its block (§6.2.2)')
    t.equal(await host.ask(Buffer.concat([ascii('GIX002'), hex('0001')])), 'GIX011', 'a truncated TLV header')
    t.equal(await host.ask('DEX008010HELLO'), 'DEX011', 'DEX_MSGLEN ≠ the size of DEX_MSG (§6.5.4)')
    t.equal(await host.ask(`DEX164161${'x'.repeat(161)}`), 'DEX011', 'DEX_MSGLEN > 160 (§6.5.4)')
    const gpn = { GPN_METHOD: '3', GPN_KEYIDX: 1, GPN_WKENC: '0'.repeat(32), GPN_PANLEN: 16, GPN_PAN: '4761739001010010' }
    const entry = { GPN_MIN: 4, GPN_MAX: 8, GPN_MSG: 'SENHA' }
    t.equal(await host.ask(cmd('GPN', { ...gpn, entries: [{ ...entry, GPN_MIN: 3 }] })), 'GPN011', 'GPN_MIN1 < 04 (§6.5.11)')
    t.equal(await host.ask(cmd('GPN', { ...gpn, entries: [entry, entry] })), 'GPN011', 'GPN_ENTRIES ≠ 1 (§6.5.11)')
    t.equal(await host.ask(cmd('GPN', { ...gpn, GPN_PAN: '47617390A1010010', entries: [entry] })), 'GPN011', 'a PAN with a letter (§6.5.11)')
    t.equal(await host.ask(cmd('GPN', { ...gpn, GPN_KEYIDX: 50, entries: [entry] })), 'GPN011', 'a key index outside the pinpad\'s range (§6.5.11)')
    t.equal(await host.ask(cmd('GPN', { ...gpn, GPN_KEYIDX: 5, entries: [entry] })), 'GPN042', 'a key position with no key: ST_ERRKEY')
    t.equal(await host.ask(cmd('GPN', { ...gpn, GPN_PANLEN: 0, GPN_PAN: '', entries: [entry] })), 'GPN010', 'an empty PAN with no card read (§6.5.11)')
    t.equal(await host.ask('GCR'), 'GCR010', 'an empty GCR with no GCR answered 020 before (§6.8.2)')
  })

  t.test('a missing mandatory TLV parameter: xxx019 (ST_MANDAT)', async (t) => {
    const { host } = setup(t)
    t.equal(await host.ask(cmd('GCX', { SPE_TRNDATE: '260115', SPE_AMOUNT: 100 })), 'GCX019', 'GCX without SPE_TRNTIME')
    t.equal(await host.ask(cmd('GCX', { SPE_TRNTIME: '101500' })), 'GCX019', 'GCX without SPE_TRNDATE')
    t.equal(await host.ask(cmd('GED', {})), 'GED019', 'GED without SPE_TAGLIST')
    t.equal(await host.ask(cmd('GOX', { SPE_ACQREF: 1, SPE_MTHDPIN: '3' })), 'GOX019', 'GOX without SPE_KEYIDX')
    t.equal(await host.ask(cmd('GOX', { SPE_MTHDPIN: '3', SPE_KEYIDX: 1 })), 'GOX019', 'GOX without SPE_ACQREF')
    t.equal(await host.ask(cmd('FCX', { SPE_ARC: '00' })), 'FCX019', 'FCX without SPE_FCXOPT')
  })
})

t.test('control commands (§3.2, §6.4)', async (t) => {
  t.test('GIN "00": the §3.2.3 example command, the 100-byte layout', async (t) => {
    const { host } = setup(t)
    const answer = await host.ask(ascii('GIN00200'))
    t.equal(answer.length, 109)
    t.equal(answer.slice(0, 9), 'GIN000100')
    t.same(fieldsOf(ascii(answer), { GIN_ACQIDX: '00' }), {
      layout: '00',
      GIN_MNAME: 'GERTEC',
      GIN_MODEL: 'MOBI PIN 10;2MB',
      GIN_CTLSSUP: 'C',
      GIN_SOVER: 'VPP-OS 1.0',
      GIN_SPECVER: '2.12',
      GIN_MANVER: '001.00 261127',
      GIN_SERNUM: 'VPP0000000000001',
    })
  })

  t.test('GIN "02", "03" and any other index: 42 bytes each in their own layout', async (t) => {
    const { host } = setup(t)
    const a02 = await host.ask('GIN00202') // §3.2.3 example command
    t.equal(a02.slice(0, 9), 'GIN000042')
    t.equal(a02.length, 51)
    t.match(fieldsOf(ascii(a02), { GIN_ACQIDX: '02' }), { layout: '02', GIN_ACQNAM: 'Abecs', GIN_SPECVER: '2.12', GIN_RUF1: '', GIN_RUF2: '00' })
    t.equal(a02.slice(9, 17), 'Abecs   ', 'GIN_ACQNAM A8')

    const a03 = await host.ask('GIN00203')
    t.equal(a03.slice(0, 9), 'GIN000042')
    t.match(fieldsOf(ascii(a03), { GIN_ACQIDX: '03' }), { layout: '03', GIN_ACQNAM: 'Abecs', GIN_SPECVER: '2.12', GIN_DUKPT: 'T', GIN_RUF2: '00' })
    t.equal(a03[48], 'T', 'GIN_DUKPT at its offset: DUKPT:TDES:PIN #01 present')

    const a05 = await host.ask('GIN00205')
    t.equal(a05.slice(0, 9), 'GIN000042')
    t.equal(a05.slice(9, 29), 'Abecs'.padEnd(20), 'GIN_ACQNAME A20')
    t.match(fieldsOf(ascii(a05), { GIN_ACQIDX: '05' }), { layout: 'other', GIN_SPECVER: '2.12', GIN_RUF2: '00' })
  })

  t.test('GIN "03" reports a missing DUKPT:TDES:PIN #01 with a blank', async (t) => {
    const { host } = setup(t, { dukpt: { keyIndexes: [2] } })
    const a03 = await host.ask('GIN00203')
    t.equal(a03[48], ' ')
  })

  t.test('GIX without SPE_IDLIST: every (†) item, in the table order (§3.2.4 example command)', async (t) => {
    const { host } = setup(t)
    const all = items(await host.command('GIX'))
    const ids = all.map(([id]) => id)
    t.same(
      ids,
      [
        0x8001, 0x8002, 0x8003, 0x8004, 0x8005, 0x8006, 0x8007, 0x8008, 0x8009, 0x800a, 0x8010, 0x8011, 0x8012, 0x8013,
        0x8014, 0x8015, 0x8016, 0x8020, 0x8030, 0x8031, 0x8032, 0x8033, 0x8034, 0x8035, 0x8036, 0x8062,
      ],
      'the same items as the example answer',
    )
    const get = (id: number) => all.find(([i]) => i === id)![1]
    t.equal(text(get(0x8007)), '2.12', 'PP_SPECVER')
    t.equal(text(get(0x8005))[0], '1', 'PP_CAPAB: contactless')
    t.equal(text(get(0x8035)), `01${'0'.repeat(8)}${'2'.repeat(90)}`, 'PP_DKPTTDESP: key #01 loaded')
    t.equal(get(0x8062).length, 4, 'PP_TLRMEM X4')
    t.notOk(ids.includes(0x9101), 'KSNs are not (†) items')

    const { host: plain } = setup(t, { identity: { contactless: false } })
    const plainIds = items(await plain.command('GIX')).map(([id]) => id)
    t.notOk(plainIds.some((id) => id >= 0x8011 && id <= 0x8016), 'no contactless kernel versions without contactless')
    t.equal(text(items(await plain.command('GIX')).find(([id]) => id === 0x8005)![1])[0], '0', 'PP_CAPAB: no contactless')
  })

  t.test('GIX with SPE_IDLIST: the §3.2.4 example, in the order asked; an absent key is left out', async (t) => {
    const { host } = setup(t)
    const answer = await host.command(hex('47 49 58 30 31 34 00 01 00 0A 80 01 80 04 80 34 91 01 91 0E'))
    t.equal(text(answer).slice(0, 6), 'GIX000')
    const got = items(answer)
    t.same(
      got.map(([id]) => id),
      [0x8001, 0x8004, 0x8034, 0x9101],
      'PP_SERNUM, PP_MNNAME, PP_DKPTDESP, PP_KSNTDESP01; no PP_KSNTDESP14',
    )
    t.equal(text(got[0]![1]), 'VPP0000000000001')
    t.equal(text(got[1]![1]), 'GERTEC')
    t.equal(text(got[2]![1]), `${'0'.repeat(10)}${'2'.repeat(90)}`, 'no DUKPT:DES:PIN key')
    t.same(got[3]![1], hex('FFFF9876543210E00000'), 'PP_KSNTDESP01: the KSN before any PIN entry')
  })

  t.test('GIX: repeats are answered, unknown ids skipped, table versions present', async (t) => {
    const { host } = setup(t, { tables: factoryTables() })
    const got = items(await host.command(cmd('GIX', { SPE_IDLIST: [0x8007, 0x7fff, 0x8001, 0x8007, 0xabcd, 0x9300, 0x9301, 0x9305, 0x9101] })))
    t.same(
      got.map(([id, v]) => [id.toString(16), id === 0x9101 ? v.toString('hex') : text(v)]),
      [
        ['8007', '2.12'],
        ['8001', 'VPP0000000000001'],
        ['8007', '2.12'],
        ['9300', factoryTables().version],
        ['9301', factoryTables().version],
        ['9305', '0000000000'],
        ['9101', 'ffff9876543210e00000'],
      ],
    )
  })

  t.test('GIX: answers over 999 bytes span blocks; over the packet limit, 045', async (t) => {
    const { host } = setup(t)
    const keyMaps = [0x8030, 0x8031, 0x8032, 0x8033, 0x8034, 0x8035, 0x8036]
    const list = [...keyMaps, ...keyMaps.slice(0, 5)] // 12 items of 104 bytes
    const answer = await host.command(cmd('GIX', { SPE_IDLIST: list }))
    const blocks = decodeResponse(answer).blocks
    t.ok(blocks.length >= 2, `${blocks.length} blocks`)
    t.ok(blocks.every((b) => b.length <= 999), 'each block at most 999 bytes')
    t.same(items(answer).map(([id]) => id), list, 'items in order across the blocks')
    t.equal(await host.ask(cmd('GIX', { SPE_IDLIST: Array(20).fill(0x8030) })), 'GIX045', 'ST_RSPOVRFL')
  })

  t.test('CLO (§3.2.6 example): the message stays on the display and the pinpad is closed', async (t) => {
    const { host, pad } = setup(t)
    await host.ask('OPN')
    t.equal(await host.ask(example('CLO_COMMAND')), 'CLO000')
    t.same(pad.display.screen, { lines: ['POSTO FORÇA 10', 'OBRIGADO!!!'], source: 'CLO' })
    t.notOk(pad.opened)
  })

  t.test('CLO tolerates a short or odd message like DSP (§6.4.5)', async (t) => {
    const { host, pad } = setup(t)
    t.equal(await host.ask('CLO007ATE\x01MAIS'), 'CLO000')
    t.same(pad.display.screen.lines, ['ATE MAIS', ''])
    t.equal(await host.ask('CLO'), 'CLO000', 'no message at all')
    t.same(pad.display.screen.lines, ['', ''])
  })

  t.test('CLX (§3.2.7 example): free text, CR breaks lines', async (t) => {
    const { host, pad } = setup(t)
    t.equal(await host.ask(example('CLX_COMMAND')), 'CLX000')
    t.same(pad.display.screen, { lines: ['PRESTO SHOP', 'OBRIGADO E', 'VOLTE SEMPRE!'], source: 'CLX' })
  })
})

t.test('display commands (§3.3, §6.5)', async (t) => {
  t.test('DSP (§3.3.5 example): two lines of 16', async (t) => {
    const { host, pad } = setup(t)
    const seen: string[][] = []
    pad.display.onChange((s) => seen.push(s.lines))
    t.equal(await host.ask(example('DSP_COMMAND')), 'DSP000')
    t.same(pad.display.screen, { lines: ['ERRO DE OPERAÇÃO', 'CÓDIGO:  2112/76'], source: 'DSP' })
    t.same(seen, [['ERRO DE OPERAÇÃO', 'CÓDIGO:  2112/76']], 'the hosting program was told')
  })

  t.test('DSP robustness (§6.5.5): control characters are spaces, short is padded, excess ignored', async (t) => {
    const { host, pad } = setup(t)
    t.equal(await host.ask(`DSP032LINHA\x01UM\x1f${' '.repeat(7)}LINHA DOIS${' '.repeat(6)}`), 'DSP000')
    t.same(pad.display.screen.lines, ['LINHA UM', 'LINHA DOIS'])
    t.equal(await host.ask('DSP005CURTA'), 'DSP000')
    t.same(pad.display.screen.lines, ['CURTA', ''])
    t.equal(await host.ask('DSP032CURTA'), 'DSP000', 'CMD_LEN1 larger than the data')
    t.same(pad.display.screen.lines, ['CURTA', ''])
    t.equal(await host.ask(`DSP040${'A'.repeat(16)}${'B'.repeat(16)}EXTRAXXX`), 'DSP000')
    t.same(pad.display.screen.lines, ['A'.repeat(16), 'B'.repeat(16)])
  })

  t.test('DEX (§3.3.4 example): free text; any character below 20h breaks the line (§6.5.4)', async (t) => {
    const { host, pad } = setup(t)
    t.equal(await host.ask(example('DEX_COMMAND')), 'DEX000')
    t.same(pad.display.screen, { lines: ['Feliz Natal', 'e um', 'Próspero', 'Ano Novo!'], source: 'DEX' })
    t.equal(await host.ask('DEX012009UM\nDOIS\x02X'), 'DEX000')
    t.same(pad.display.screen.lines, ['UM', 'DOIS', 'X'])
  })

  t.test('RMC (§3.3.14 example) without a card: returns at once, the message stays', async (t) => {
    const { host, pad } = setup(t)
    t.equal(await host.ask(example('RMC_COMMAND')), 'RMC000')
    t.same(pad.display.screen, { lines: ['    OPERAÇÃO', '   FINALIZADA'], source: 'RMC' })
  })

  t.test('RMC with a card in the slot: "RETIRE O CARTÃO" until removal, then the message', async (t) => {
    const { host, pad } = setup(t, { tables: factoryTables() })
    pad.cardholder.present('visa-credit', 'insert')
    t.match(await host.ask(GCX_WAIT), /^GCX000/)
    t.equal(pad.cardholder.inserted, 'visa-credit')
    host.send(example('RMC_COMMAND'))
    t.equal((await host.nextControl()).byte, ACK)
    t.ok(await host.quiet(300), 'RMC blocks while the card is in')
    t.same(pad.display.screen.lines, ['RETIRE O CARTÃO', ''])
    pad.cardholder.remove()
    t.equal(text(await host.nextPacket()), 'RMC000')
    t.same(pad.display.screen.lines, ['    OPERAÇÃO', '   FINALIZADA'])
  })

  t.test('RMC cancelled with CAN: EOT, no response, display cleared (§6.5.14)', async (t) => {
    const { host, pad, clock } = setup(t, { tables: factoryTables() })
    pad.cardholder.present('visa-credit', 'insert')
    t.match(await host.ask(GCX_WAIT), /^GCX000/)
    host.send(example('RMC_COMMAND'))
    t.equal((await host.nextControl()).byte, ACK)
    await clock.sleep(100)
    host.write([CAN])
    t.equal((await host.nextControl()).byte, EOT)
    t.ok(await host.quiet(200))
    t.same(pad.display.screen.lines, [])
  })
})

t.test('table maintenance (§3.5, §6.7)', async (t) => {
  const aidExample = example('TLR_AID_COMMAND') // two AID records of acquirer 03
  const otherExample = example('TLR_CAPK_REVOKED_COMMAND') // a CAPK of acquirer 02, revoked certificates of 01

  t.test('GTS on a pinpad without tables: zeros (§3.5.1 example command)', async (t) => {
    const { host } = setup(t, { tables: 'empty' })
    t.equal(await host.ask('GTS00202'), 'GTS000010' + '0000000000')
    t.equal(await host.ask('GTS00200'), 'GTS000010' + '0000000000')
  })

  t.test('TLI with a different version: 020, informative; the load goes on (§3.5.2 example)', async (t) => {
    const { host, pad } = setup(t, { tables: factoryTables() })
    t.equal(await host.ask(`GTS00200`), `GTS000010${factoryTables().version}`)
    t.equal(await host.ask('TLI01200TABVER0008'), 'TLI020')
    t.equal(await host.ask(aidExample), 'TLR000')
    t.match(pad.display.text, /ATUALIZANDO\s+TABELAS/, 'TLR may show "ATUALIZANDO TABELAS"')
    t.equal(await host.ask(otherExample), 'TLR000')
    t.equal(await host.ask('TLE'), 'TLE000')
    t.same(pad.display.screen.lines, [], 'TLE clears what TLR showed')
    t.equal(await host.ask('GTS00200'), 'GTS000010TABVER0008')
    t.same(
      pad.tables.records.map((r) => `${r.TAB_ID}/${r.TAB_ACQ}/${r.TAB_RECIDX}`).sort(),
      ['1/3/01', '1/3/02', '2/2/13', '3/1/01', '3/1/02', '3/1/03'],
      'a unified load ("00") keeps every acquirer; the factory tables are gone',
    )
    t.equal(await host.ask('TLI01200TABVER0008'), 'TLI000', 'the same version: 000')
    t.equal(await host.ask('TLE'), 'TLE000')
  })

  t.test('TLI for one acquirer: records of other acquirers are ignored (§6.7.3)', async (t) => {
    const { host, pad } = setup(t, { tables: 'empty' })
    t.equal(await host.ask('TLI01203ACQ3V00001'), 'TLI020')
    t.equal(await host.ask(aidExample), 'TLR000')
    t.equal(await host.ask(otherExample), 'TLR000', 'no error for the other acquirers\' records')
    t.equal(await host.ask('TLE'), 'TLE000')
    t.same(pad.tables.records.map((r) => `${r.TAB_ID}/${r.TAB_ACQ}/${r.TAB_RECIDX}`), ['1/3/01', '1/3/02'])
    t.equal(await host.ask('GTS00203'), 'GTS000010ACQ3V00001')
    t.equal(await host.ask('GTS00200'), 'GTS000010' + '0000000000', 'no general version after a separate load')
  })

  t.test('invalid and unknown records are ignored, not errors (§6.7.3)', async (t) => {
    const { host, pad } = setup(t, { tables: 'empty' })
    const good = encodeTableRecord({ ...(decodeTableRecord(factoryTables().records[0]!) as any), TAB_ACQ: 1 })
    const unknownTable = ascii('0109010199') // TAB_LEN 010, TAB_ID 9
    const badAid = Buffer.concat([ascii('0201010X'), Buffer.alloc(12, 0x20)]) // an AID record of 20 bytes
    const data = Buffer.concat([ascii('03'), unknownTable, good, badAid])
    t.equal(await host.ask('TLI01200BADRECORDS'), 'TLI020')
    t.equal(await host.ask(Buffer.concat([ascii(`TLR${String(data.length).padStart(3, '0')}`), data])), 'TLR000')
    t.equal(await host.ask('TLE'), 'TLE000')
    t.equal(pad.tables.count, 1, 'only the valid record was stored')
  })

  t.test('TLE without TLR erases the tables (§6.7.4)', async (t) => {
    const { host, pad } = setup(t, { tables: factoryTables() })
    t.ok(pad.tables.count > 0)
    t.equal(await host.ask('TLI01200EMPTYSET01'), 'TLI020')
    t.equal(await host.ask('TLE'), 'TLE000')
    t.equal(pad.tables.count, 0)
  })

  t.test('TLR or TLE without TLI: 010; a load ends at TLE', async (t) => {
    const { host, pad } = setup(t, { tables: factoryTables() })
    t.equal(await host.ask(aidExample), 'TLR010')
    t.equal(await host.ask('TLE'), 'TLE010')
    t.equal(await host.ask('TLI01200TABVER0001'), 'TLI020')
    t.equal(await host.ask('TLE'), 'TLE000')
    t.equal(await host.ask('TLE'), 'TLE010', 'the load already ended')
    t.equal(await host.ask(aidExample), 'TLR010')
    t.equal(pad.tables.count, 0)
  })

  t.test('a TLR whose structure is broken: 011', async (t) => {
    const { host } = setup(t)
    t.equal(await host.ask('TLI01200TABVER0001'), 'TLI020')
    t.equal(await host.ask('TLR012020109010199'), 'TLR011', 'TLR_NREC says 2, one record follows')
  })
})

t.test('card commands: the §3.3.11, §3.6 and §3.7 worked examples', async (t) => {
  /** The factory AID and CAPK records, relabelled for the acquirer index the examples use. */
  const tablesFor = (acquirer: number, version: string) => ({
    version,
    records: factoryTables().records.map((r) => encodeTableRecord({ ...(decodeTableRecord(r) as any), TAB_ACQ: acquirer })),
  })
  const emvTags = (tlv: Buffer) => {
    const out: string[] = []
    for (let pos = 0; pos < tlv.length; ) {
      let end = pos + 1
      if ((tlv[pos]! & 0x1f) === 0x1f) while (tlv[end++]! & 0x80);
      const tag = tlv.subarray(pos, end).toString('hex').toUpperCase()
      out.push(`${tag}:${tlv.subarray(end + 1, end + 1 + tlv[end]!).toString('hex').toUpperCase()}`)
      pos = end + 1 + tlv[end]!
    }
    return out
  }

  t.test('FCX, FNC, GOX and GOC without a card session: 010', async (t) => {
    const { host } = setup(t)
    t.equal(await host.ask(example('FCX_COMMAND')), 'FCX010')
    t.equal(await host.ask(example('FNC_COMMAND')), 'FNC010')
    t.equal(await host.ask(example('GOX_COMMAND')), 'GOX010')
    t.equal(await host.ask(example('GOC_COMMAND')), 'GOC010')
    t.equal(await host.ask(cmd('GED', { SPE_TAGLIST: ['9F26'] })), 'GED010')
    t.equal(await host.ask(cmd('GTK', {})), 'GTK010')
  })

  t.test('GPN examples: MK/WK is not loaded (042); more than one entry is refused (011, §6.5.11)', async (t) => {
    const { host } = setup(t)
    t.equal(await host.ask(example('GPN_MKWK_COMMAND')), 'GPN042', 'MK/WK:TDES:PIN #08 absent: ST_ERRKEY')
    t.equal(await host.ask(example('GPN_DUKPT_COMMAND')), 'GPN011', '"identificação positiva" with 3 entries: GPN_ENTRIES is fixed at 1')
  })

  t.test('GCX (ICC example), GED, GOX and FCX examples in sequence, acquirer 08', async (t) => {
    const { host, pad } = setup(t, { tables: tablesFor(8, 'ACQ08TAB01'), dukpt: { keyIndexes: [7] } })
    pad.cardholder.present('visa-credit', 'insert')
    const gcx = await host.command(example('GCX_ICC_COMMAND'))
    t.equal(text(gcx).slice(0, 6), 'GCX000')
    const reference = items(example('GCX_ICC_RESPONSE')).map(([id]) => id)
    t.same(items(gcx).map(([id]) => id).sort(), [...reference].sort(), 'the same items as the example answer')
    const g = fieldsOf(gcx)
    t.match(g, {
      PP_CARDTYPE: '03',
      PP_AIDTABINFO: ['080101'],
      PP_PAN: '4761739001010010',
      PP_PANSEQNO: '01',
      PP_CHNAME: 'SILVA/ANA',
      PP_TRK2INC: '4761739001010010=3012201',
      PP_LABEL: 'VISA CREDITO',
      PP_CARDEXP: '301231',
    })
    t.same(emvTags(g.PP_EMVDATA), ['5F28:0076', '5F24:301231'], 'the tags asked, in order, as in the example (5F28 0076)')

    const ged = await host.command(hex('47 45 44 30 31 31 00 04 00 07 9F 07 9F 08 4F DF 55'))
    const tags = emvTags(fieldsOf(ged).PP_EMVDATA)
    t.ok(tags.includes('9F07:FF00'), 'Application Usage Control as in the example')
    t.ok(tags.includes('4F:A0000000031010'), 'ADF Name as in the example')
    t.notOk(tags.some((x) => x.startsWith('DF55')), 'an unknown tag is left out')

    pad.cardholder.typePin('1234')
    const gox = await host.command(example('GOX_COMMAND'))
    t.equal(text(gox).slice(0, 6), 'GOX000')
    const x = fieldsOf(gox)
    // The example's date (2013-09-01) precedes the test card's effective date (2023): the chip
    // declines offline (1xxxxx) where the example went online (2xxxxx); the rest is the same.
    t.equal(x.PP_GOXRES, '102000', 'declined offline, no signature, online PIN captured')
    t.equal(x.PP_PINBLK.length, 8)
    t.equal(x.PP_KSN.length, 10)
    t.same(
      emvTags(x.PP_EMVDATA).map((s) => s.split(':')[0]),
      ['95', '9F26', '9F27', '9F10', '9F34', '9F36'],
      'the objects in the order asked',
    )
    t.ok(emvTags(x.PP_EMVDATA).includes('9F27:00'), 'AAC')
    t.match(host.notifications.join('|'), /SOLICITE A SENHA/)

    const fcx = await host.command(example('FCX_COMMAND'))
    t.equal(text(fcx).slice(0, 6), 'FCX000')
    const f = fieldsOf(fcx)
    t.equal(f.PP_FCXRES, '100', 'declined: the chip declined offline (§6.9.4.1)')
    t.same(f.PP_ISRESULTS, hex('20 00 00 00 00'), 'Issuer Script Results exactly as in the example')
    t.same(emvTags(f.PP_EMVDATA).map((s) => s.split(':')[0]), ['95', '9F26', '9F27', '9F10'], 'the objects asked, in order')
    t.equal(await host.ask(example('FCX_COMMAND')), 'FCX010', 'FCX already called (§6.9.4)')
  })

  t.test('GCX (all-options example): SPE_DSPMSG shown, AID list honoured, contactless on', async (t) => {
    const { host, pad } = setup(t, { tables: factoryTables() })
    host.send(example('GCX_ALL_COMMAND'))
    t.equal((await host.nextControl()).byte, ACK)
    await host.nextPacket() // NTM
    t.same(pad.display.screen.lines, ['POR FAVOR AMIGO, USE SEU CARTÃO COMO QUISER!'])
    pad.cardholder.present('visa-contactless', 'tap')
    let gcx = await host.nextPacket()
    while (text(gcx).startsWith('NTM')) gcx = await host.nextPacket()
    t.equal(text(gcx).slice(0, 6), 'GCX000')
    const reference = items(example('GCX_CTLS_RESPONSE')).map(([id]) => id)
    const got = items(gcx).map(([id]) => id)
    t.ok(reference.every((id) => got.includes(id)), 'every item of the example answer is there')
    t.match(fieldsOf(gcx), { PP_CARDTYPE: '06', PP_AIDTABINFO: ['010101'], PP_PAN: '4761739001010119' })
  })

  t.test('GCR examples: a different table version draws 020 for a chip card, not for a swipe (§6.8.1)', async (t) => {
    const { host, pad } = setup(t, { tables: factoryTables() })
    pad.cardholder.present('magstripe-credit', 'swipe')
    const mag = await host.command(example('GCR_LIST_COMMAND'))
    t.equal(text(mag).slice(0, 9), 'GCR000342')
    t.match(fieldsOf(mag), { GCR_CARDTYPE: '00', GCR_PANLEN: 0, GCR_TRK2: '5555555555554444=29121010000012300' })
    pad.cardholder.present('visa-credit', 'insert')
    t.equal(await host.ask(example('GCR_LIST_COMMAND')), 'GCR020')
  })

  t.test('GCR (all applications example), GOC and FNC examples in sequence', async (t) => {
    const { host, pad } = setup(t, { tables: factoryTables().records && { version: 'TABVER0918', records: factoryTables().records } })
    pad.cardholder.present('visa-credit', 'insert')
    const gcr = await host.command(example('GCR_ALL_COMMAND'))
    t.equal(text(gcr).slice(0, 6), 'GCR000')
    t.match(fieldsOf(gcr), {
      GCR_CARDTYPE: '03',
      GCR_STATCHIP: '0',
      GCR_APPTYPE: '01',
      GCR_ACQIDX: '01',
      GCR_RECIDX: '01',
      GCR_TRK2: '4761739001010010=30122010000012300',
      GCR_PANLEN: 16,
      GCR_PAN: '4761739001010010',
      GCR_PANSEQNO: '01',
      GCR_APPLABEL: 'VISA CREDITO',
      GCR_SRVCODE: '201',
      GCR_CHNAME: 'SILVA/ANA',
      GCR_CARDEXP: '301231',
      GCR_ISSCNTRY: '076',
    })
    pad.cardholder.typePin('1234')
    const goc = await host.command(example('GOC_COMMAND'))
    t.equal(text(goc).slice(0, 6), 'GOC000')
    const o = fieldsOf(goc)
    // The example's date (2014-07-24) is before the test card's effective date (2023): the chip
    // flags "application not yet effective" and declines offline (decision 1).
    t.match(o, { GOC_DECISION: '1', GOC_SIGNAT: '0', GOC_PINOFF: '0', GOC_PBLOCKED: '0', GOC_PINONL: '1' })
    t.not(o.GOC_KSN, '0'.repeat(20), 'the online PIN was captured before the first GENERATE AC')
    const gocTags = emvTags(Buffer.from(o.GOC_EMVDAT, 'hex'))
    t.same(
      gocTags.map((s) => s.split(':')[0]).filter((tag) => tag !== '8F'),
      ['82', '9F27', '9F26', '9F36', '95', '9F37'],
      'GOC_TAGS1 objects in the order asked, as in the example',
    )
    t.ok(gocTags.includes('9F27:00'), 'AAC')
    t.ok(parseInt(gocTags.find((s) => s.startsWith('95:'))!.slice(5, 7), 16) & 0x20, 'TVR: application not yet effective')
    const fnc = await host.command(example('FNC_COMMAND'))
    t.equal(text(fnc).slice(0, 6), 'FNC000')
    const n = fieldsOf(fnc)
    t.same(n, { FNC_DECISION: '1', FNC_EMVDAT: '', FNC_ISR: '', FNC_ACQRD: '' }, 'after an offline decision: GOC_DECISION again, no data (§6.8.5.1)')
    t.equal(await host.ask(example('FNC_COMMAND')), 'FNC010', 'FNC already called (§6.8.5)')
  })
})
