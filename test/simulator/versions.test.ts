/**
 * What each specification version knows (§3.1.3: the "Abecs" commands are those BibComp lacks;
 * 2.20 dropped GEN and the DES methods): a 1.08 virtual pinpad answers as a 1.08 device would.
 */
import t from 'tap'
import { encodeCommand } from '../../src/abecs/packet.js'
import { COMMANDS, type CommandSpec } from '../../src/abecs/commands/index.js'
import { DC2 } from '../../src/abecs/control.js'
import { virtualPinpadWithHost } from '../helpers/scripted-host.js'
import { fieldPinpad } from '../helpers/field-pinpad.js'

const spec = (id: string) => (COMMANDS as Record<string, CommandSpec<any, any>>)[id]!
const cmd = (id: string, request: unknown): Buffer => encodeCommand(id, spec(id).encodeRequest(request))
const QUIET = { cardholder: { autoCard: null, autoPin: null } }

t.test('1.08: the TLV commands are unknown (ERR010); the classic ones answer', async (t) => {
  const { host } = virtualPinpadWithHost(t, { ...QUIET, identity: { specVersion: '1.08' } })
  for (const packet of [
    cmd('CEX', { SPE_CEXOPT: '100000' }),
    cmd('EBX', { SPE_DATAIN: Buffer.alloc(8), SPE_MTHDDAT: '10', SPE_KEYIDX: 1 }),
    cmd('GCD', { SPE_MSGIDX: 1 }),
    cmd('MNU', { options: ['A'] }),
    cmd('GTK', {}),
  ]) {
    t.equal(await host.ask(packet), 'ERR010', `${packet.subarray(0, 3)}: ERR010`)
  }
  t.equal(await host.ask('GDU003301'), 'GDU000020FFFF9876543210E00001', 'GDU: the next KSN of DUKPT:TDES:PIN #01')
  t.equal(await host.ask('ENB051101' + '0'.repeat(48)), 'ENB042', 'ENB: known, no data MK loaded')
  t.equal(await host.ask('CHP00501000'), 'CHP043', 'CHP: known, no card')
  t.equal((await host.ask(cmd('GEN', { GEN: '02/K3', G02K3_KEYTYPE: '3', G02K3_KEYUSE: '0', G02K3_IDXINI: '00', G02K3_IDXEND: '02' }))), 'GEN000006003010')
  t.equal(await host.ask('DWK036110200000000000000000000000000000000'), 'DWK042', 'DWK: known (obsolete), no MK')
  t.equal(await host.ask(Buffer.concat([Buffer.of(DC2), Buffer.alloc(16)])), 'ERR010', 'a DC2 packet is just an unknown command')
})

t.test('2.12: GEN and the DES methods are there (as absent keys); 2.20: gone', async (t) => {
  const k3 = cmd('GEN', { GEN: '02/K3', G02K3_KEYTYPE: '0', G02K3_KEYUSE: '0', G02K3_IDXINI: '00', G02K3_IDXEND: '01' })
  const v212 = virtualPinpadWithHost(t, QUIET)
  t.equal(await v212.host.ask(k3), 'GEN00000500200')
  t.equal(await v212.host.ask('GDU003201'), 'GDU042', 'DUKPT:DES: a key position with no key')
  const v220 = virtualPinpadWithHost(t, { ...QUIET, identity: { specVersion: '2.20' } })
  t.equal(await v220.host.ask(k3), 'ERR010', '2.20 removed every GEN command')
  t.equal(await v220.host.ask('GDU003201'), 'GDU011', 'method "2" is no longer in the list')
  t.equal(await v220.host.ask(cmd('EBX', { SPE_DATAIN: Buffer.alloc(8), SPE_MTHDDAT: '30', SPE_KEYIDX: 1 })), 'EBX011', 'DAT#1 ("30") is gone')
})

t.test('2.20 reports its version and drops the DES key maps from GIX', async (t) => {
  const { client } = fieldPinpad(t, { identity: { specVersion: '2.20' } })
  const gix = await client.call('GIX', {})
  t.equal(gix.PP_SPECVER, '2.20')
  t.notOk('PP_MKDESP' in gix || 'PP_MKDESD' in gix || 'PP_DKPTDESP' in gix, '8030h, 8031h, 8034h are reserved in 2.20')
  t.ok(gix.PP_MKTDESP && gix.PP_DKPTTDESD)
})

t.test('2.20: DEX may carry DEX_OPTIONS after the message; 2.12 refuses the extra bytes (§6.5.4)', async (t) => {
  const dex = 'DEX040031NAO AUTORIZADA\rTENTE NOVAMENTE!202000'
  const v220 = virtualPinpadWithHost(t, { ...QUIET, identity: { specVersion: '2.20' } })
  t.equal(await v220.host.ask(dex), 'DEX000', 'the 2.20 example')
  t.same(v220.pad.display.screen.lines, ['NAO AUTORIZADA', 'TENTE NOVAMENTE!'])
  const v212 = virtualPinpadWithHost(t, QUIET)
  t.equal(await v212.host.ask(dex), 'DEX011', 'DEX_MSGLEN does not match what follows')
})
