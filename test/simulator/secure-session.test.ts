/**
 * The secure session (§5.2, §6.3.2) end to end: the host stack's secure OPN against the virtual
 * pinpad — KSEC under a fresh RSA key, every later command and answer sealed (DC2) on the wire, NTMs
 * too, CLO answered in clear and ending it — and the pinpad's answers to what breaks the rules.
 */
import t from 'tap'
import { DC2 } from '../../src/abecs/control.js'
import { decodeResponse, encodeCommand } from '../../src/abecs/packet.js'
import { sealPacket } from '../../src/abecs/secure.js'
import { newSessionKeyPair, secureOpnRequest, sessionKeyFrom } from '../../src/abecs/secure-host.js'
import { OPN } from '../../src/abecs/commands/index.js'
import { ScriptedHost, virtualPinpadWithHost } from '../helpers/scripted-host.js'
import { fieldPinpad } from '../helpers/field-pinpad.js'
import { ascii } from '../helpers/hex.js'

const sealed = (p: Buffer) => p[0] === DC2
const DATE = { SPE_TRNDATE: '260115', SPE_TRNTIME: '101500' }

t.test('secure OPN: KSEC agreed, then commands and answers travel sealed; CLO in clear ends it', async (t) => {
  const { client, link, sent, received, pad } = fieldPinpad(t)
  await link.open()
  t.equal(await client.openSecure(), true, 'the pinpad returned OPN_CRKSEC')
  t.ok(link.secure && pad.secure.active)
  t.equal(sent.at(-1)!.subarray(0, 6).toString(), 'OPN523', 'OPN in clear, with the 256-byte key')
  const gix = await client.call('GIX', { SPE_IDLIST: [0x8001] })
  t.equal(gix.PP_SERNUM, 'VPP0000000000001', 'the answer opened fine')
  t.ok(sealed(sent.at(-1)!) && sealed(received.at(-1)!), 'GIX and its answer were sealed on the wire')
  t.notOk(sent.at(-1)!.includes(ascii('GIX')), 'nothing of the command shows')

  // A blocking command: its NTM is sealed too (§5.2.2).
  const notes: string[] = []
  pad.cardholder.options.autoCard = 'visa-credit'
  const card = await client.call('GCX', { ...DATE, SPE_AMOUNT: 1000 }, { onNotification: (m) => notes.push(m) })
  t.equal(card.PP_CARDTYPE, '03')
  t.ok(notes.length > 0, 'NTMs reached the caller')
  t.ok(received.filter((p) => !sealed(p)).every((p) => p.subarray(0, 3).toString() === 'OPN'), 'nothing but OPN000 came back in clear')

  await client.call('CLO', { CLO_MSG: 'ATE LOGO' })
  t.ok(sealed(sent.at(-1)!), 'CLO itself went sealed')
  t.equal(received.at(-1)!.toString('latin1'), 'CLO000', 'and was answered in clear (§5.2.2)')
  t.notOk(link.secure || pad.secure.active, 'the session is over on both ends')
  await client.call('GIX', { SPE_IDLIST: [0x8001] })
  t.notOk(sealed(sent.at(-1)!), 'back to clear')
})

t.test('a new OPN replaces the session; classic OPN ends it (§6.3.2)', async (t) => {
  const { client, link, pad } = fieldPinpad(t)
  await link.open()
  await client.openSecure()
  await client.openSecure()
  t.ok(pad.secure.active, 'a second secure OPN, in clear, is accepted and draws a new KSEC')
  await client.call('GIN', { GIN_ACQIDX: '00' })
  await client.call('OPN', {})
  t.notOk(link.secure || pad.secure.active)
})

t.test('the pinpad\'s answers to a broken session (§2.3.4, §6.3.2)', async (t) => {
  const { host, pad } = virtualPinpadWithHost(t, { cardholder: { autoCard: null } })
  const ksec = Buffer.alloc(16, 7)
  t.equal(await host.ask(sealPacket(ksec, ascii('GIX'))), 'ERR003', 'sealed with no session: ST_NOSEC')
  const { OPN_CRKSEC } = await openWith(host)
  t.ok(OPN_CRKSEC && pad.secure.active)
  const junk = Buffer.concat([Buffer.of(DC2), Buffer.alloc(32, 1)])
  t.equal(await host.ask(junk), 'ERR009', 'a packet that does not open: ST_ERRPKTSEC')
  t.notOk(pad.secure.active || pad.opened, 'the session is dropped and the pinpad closed')
})

t.test('a sealed OPN is OPN010 and closes; a clear command in session is processed, or 009 when refused', async (t) => {
  const accept = virtualPinpadWithHost(t, { cardholder: { autoCard: null } })
  const { ksec } = await openWith(accept.host)
  t.equal((await accept.host.ask('GIN00200')).slice(0, 6), 'GIN000', 'the PPC-930 answered clear commands in clear (default)')
  t.ok(accept.pad.secure.active, 'and the session goes on')
  t.equal(await accept.host.ask(sealPacket(ksec, ascii('OPN'))), 'OPN010')
  t.notOk(accept.pad.secure.active)

  const strict = virtualPinpadWithHost(t, { cardholder: { autoCard: null }, secure: { clearCommands: 'refuse' } })
  await openWith(strict.host)
  t.equal(await strict.host.ask('GIN00200'), 'GIN009', '§5.2.2: ST_ERRPKTSEC for the command, in clear')
  t.ok(strict.pad.secure.active, 'the session is kept')
  t.equal((await strict.host.ask('OPN')).slice(0, 6), 'OPN000', 'OPN is always taken in clear')
})

t.test('no DWK while a secure session is up (§6.4.4)', async (t) => {
  const { client, link } = fieldPinpad(t)
  await link.open()
  await client.openSecure()
  await t.rejects(client.call('DWK', { DWK_MODE: '1', DWK_METHOD: '1', DWK_MKIDX: '02', DWK_WKPAN: '0'.repeat(32) }), { code: 'MPOS_ERR_PINPAD_STATUS', status: 10 } as never)
})

t.test('a 1.08 pinpad answers a secure OPN the obsolete way; the host stays in clear', async (t) => {
  const { client, link, pad } = fieldPinpad(t, { identity: { specVersion: '1.08' } })
  await link.open()
  t.equal(await client.openSecure(), false)
  t.notOk(link.secure || pad.secure.active)
  t.ok(pad.opened)
})

/** Sends a secure OPN with a fresh key from a scripted host; returns KSEC as the host would open it. */
async function openWith(host: ScriptedHost): Promise<{ OPN_CRKSEC?: string; ksec: Buffer }> {
  const keyPair = newSessionKeyPair()
  const answer = await host.command(encodeCommand('OPN', OPN.encodeRequest(secureOpnRequest(keyPair))))
  const res = OPN.decodeResponse(decodeResponse(answer).blocks, {}, 0)
  return { ...res, ksec: sessionKeyFrom(keyPair, res.OPN_CRKSEC!) }
}

