/**
 * Events and prompts on the virtual pinpad, raised through the cardholder control API: CEX (§6.5.1)
 * and CKE (§6.5.3) for keys, swipes, chip insertion and removal, contactless taps and the antenna's
 * idle limit; GCD (§6.5.8) and MNU (§6.5.13) with what the cardholder types or chooses.
 */
import t from 'tap'
import { fieldPinpad, pressWhenAsked } from '../helpers/field-pinpad.js'

const DATE = { SPE_TRNDATE: '260115', SPE_TRNTIME: '101500' }
const status = (s: number) => ({ code: 'MPOS_ERR_PINPAD_STATUS', status: s })

t.test('CEX: a key, the arrows included (PP_EVENT 00–13)', async (t) => {
  const { client, pad } = fieldPinpad(t)
  for (const [key, code] of [['ok', '00'], ['up', '02'], ['down', '03'], ['f1', '04'], ['clear', '08'], ['cancel', '13']] as const) {
    void pressWhenAsked(pad, 'asked-for-event', key)
    const waiting = client.call('CEX', { SPE_CEXOPT: '100000' })
    t.same(await waiting, { PP_EVENT: code }, key)
  }
})

t.test('CEX: a swipe gives incomplete, masked tracks; GTK then has the whole ones (§5.4.1)', async (t) => {
  const { client, pad, clock } = fieldPinpad(t)
  clock.setTimeout(() => pad.cardholder.swipe('magstripe-credit'), 30)
  const cex = await client.call('CEX', { SPE_CEXOPT: '010000', SPE_PANMASK: '0604' })
  t.same(cex, { PP_EVENT: '90', PP_TRK1INC: 'B555555******4444^RODRIGUES/PAULO^2912101', PP_TRK2INC: '555555******4444=2912101' })
  const gtk = await client.call('GTK', {})
  t.equal(gtk.PP_TRACK1?.toString('latin1').slice(0, 18), 'B5555555555554444^')
  pad.cardholder.typePin('1234')
  const pin = await client.call('GPN', {
    GPN_METHOD: '3', GPN_KEYIDX: 1, GPN_WKENC: '0'.repeat(32), GPN_PANLEN: 0, GPN_PAN: '',
    entries: [{ GPN_MIN: 4, GPN_MAX: 12, GPN_MSG: 'SENHA' }],
  })
  t.match(pin.GPN_KSN, /^FFFF9876543210E0000/, 'GPN with an empty PAN takes the swiped card\'s (§6.5.11)')
  await t.rejects(client.call('CEX', { SPE_CEXOPT: '100000', SPE_TIMEOUT: 1 }), status(12), 'a new CEX drops the tracks')
  await t.rejects(client.call('GTK', {}), status(10), 'so GTK has nothing')
})

t.test('CEX: chip in and out (92/91), at once when already so; the automatic cardholder acts', async (t) => {
  const { client, pad } = fieldPinpad(t, { cardholder: { autoCard: 'visa-credit' } })
  t.same(await client.call('CEX', { SPE_CEXOPT: '001000' }), { PP_EVENT: '92' }, 'inserted')
  t.equal(pad.cardholder.inserted, 'visa-credit')
  t.same(await client.call('CEX', { SPE_CEXOPT: '001000' }), { PP_EVENT: '92' }, 'already in')
  t.same(await client.call('CEX', { SPE_CEXOPT: '002000' }), { PP_EVENT: '91' }, 'taken out')
  t.same(await client.call('CEX', { SPE_CEXOPT: '002000' }), { PP_EVENT: '91' }, 'already out')
})

t.test('CEX: a tap (94); the card stays on the antenna for GCX, which reads it as contactless', async (t) => {
  const { client, pad, clock } = fieldPinpad(t)
  clock.setTimeout(() => pad.cardholder.tap('mastercard-contactless'), 30)
  t.same(await client.call('CEX', { SPE_CEXOPT: '111100' }), { PP_EVENT: '94' })
  const card = await client.call('GCX', { ...DATE, SPE_AMOUNT: 1, SPE_GCXOPT: '10000', SPE_AIDLIST: ['0201', '0204'] })
  t.match(card, { PP_CARDTYPE: '06', PP_AIDTABINFO: ['020101'], PP_LABEL: 'MASTERCARD' }, 'acquirer 02, record 01, as in the SCOPE capture')
})

t.test('CEX: the antenna gives up after its idle limit (93); SPE_TIMEOUT is 012; CTLS ignored without contactless', async (t) => {
  const { client } = fieldPinpad(t, { timings: { ctlsIdleMs: 100 } })
  t.same(await client.call('CEX', { SPE_CEXOPT: '000100' }), { PP_EVENT: '93' })
  await t.rejects(client.call('CEX', { SPE_CEXOPT: '100000', SPE_TIMEOUT: 1 }), status(12))
  await t.rejects(client.call('CEX', {} as never), status(19), 'SPE_CEXOPT is mandatory')
  const plain = fieldPinpad(t, { identity: { contactless: false } })
  await t.rejects(plain.client.call('CEX', { SPE_CEXOPT: '000100', SPE_TIMEOUT: 1 }), status(12), 'no antenna: only the timeout ends it')
})

t.test('CEX: a tap when only swipes are watched is ignored (§6.5.1)', async (t) => {
  const { client, pad } = fieldPinpad(t)
  void pressWhenAsked(pad, 'asked-for-event', 'ok')
  const waiting = client.call('CEX', { SPE_CEXOPT: '010000', SPE_TIMEOUT: 1 })
  await t.rejects(waiting, status(12), 'keys are not watched either')
})

t.test('CKE: a swipe gives the complete tracks; a tap CKE_CTLSSTAT 1', async (t) => {
  const { client, pad, clock } = fieldPinpad(t)
  clock.setTimeout(() => pad.cardholder.swipe('magstripe-debit'), 30)
  const mag = await client.call('CKE', { CKE_KEY: '1', CKE_MAG: '1', CKE_ICC: '0', CKE_CTLS: '1' })
  t.match(mag, { CKE_EVENT: '1', CKE_TRK2: '4000056655665556=30041200000012300' })
  clock.setTimeout(() => pad.cardholder.tap('visa-contactless'), 30)
  t.same(await client.call('CKE', { CKE_KEY: '0', CKE_MAG: '0', CKE_ICC: '0', CKE_CTLS: '1' }), { CKE_EVENT: '3', CKE_CTLSSTAT: '1' })
})

t.test('GCD: clear data under the fixed message; cancel; timeout; bad index (§6.5.8)', async (t) => {
  const { client, pad, clock } = fieldPinpad(t)
  let shown: string[] = []
  pad.display.onChange((s) => s.source === 'GCD' && s.lines.length && (shown = s.lines))
  clock.setTimeout(() => pad.cardholder.enter('169937823'), 30)
  t.same(await client.call('GCD', { SPE_MSGIDX: 9, SPE_MAXDIG: 10, SPE_TIMEOUT: 60 }), { PP_VALUE: '169937823' })
  t.same(shown, ['DIGITE O RG'])
  t.same(pad.display.screen.lines, [], 'the display is cleared at the end')
  void pressWhenAsked(pad, 'asked-for-data', 'cancel')
  await t.rejects(client.call('GCD', { SPE_MSGIDX: 7 }), status(13))
  await t.rejects(client.call('GCD', { SPE_MSGIDX: 7, SPE_TIMEOUT: 1 }), status(12))
  await t.rejects(client.call('GCD', { SPE_MSGIDX: 0x36 }), status(11), 'no message 0036h')
  await t.rejects(client.call('GCD', { SPE_MSGIDX: 1, SPE_MINDIG: 5, SPE_MAXDIG: 4 }), status(11))
  await t.rejects(client.call('GCD', {} as never), status(19))
  clock.setTimeout(() => {
    pad.cardholder.enter('12') // too short: the keypad does not confirm it
    clock.setTimeout(() => pad.cardholder.enter('1234'), 30)
  }, 30)
  t.same(await client.call('GCD', { SPE_MSGIDX: 1, SPE_MINDIG: 3, SPE_MAXDIG: 4 }), { PP_VALUE: '1234' })
})

t.test('GCD: letters only on 2.20 with SPE_GCDOPT "1xxx"', async (t) => {
  const { client, pad, clock } = fieldPinpad(t, { identity: { specVersion: '2.20' } })
  clock.setTimeout(() => pad.cardholder.enter('ABC1234'), 30)
  t.same(await client.call('GCD', { SPE_MSGIDX: 0x2a, SPE_GCDOPT: '1000' }), { PP_VALUE: 'ABC1234' })
})

t.test('MNU: chosen directly, or by arrows and OK; cancel; timeout; no option (§6.5.13)', async (t) => {
  const { client, pad, clock } = fieldPinpad(t)
  const options = ['5.Chamado Técnico', '1.Consultas', '3.Ajuda', 'Voltar!!']
  clock.setTimeout(() => pad.cardholder.choose(2), 30)
  t.same(await client.call('MNU', { SPE_TIMEOUT: 30, SPE_DSPMSG: 'Selecione, por favor:', options }), { PP_VALUE: '02' })
  void (async () => {
    for (const key of ['down', 'down', 'up', 'ok'] as const) await pressWhenAsked(pad, 'asked-to-choose', key)
  })()
  t.same(await client.call('MNU', { options }), { PP_VALUE: '02' })
  void pressWhenAsked(pad, 'asked-to-choose', 'cancel')
  await t.rejects(client.call('MNU', { options }), status(13))
  await t.rejects(client.call('MNU', { options, SPE_TIMEOUT: 1 }), status(12))
  await t.rejects(client.call('MNU', { options: [] }), status(19))
  await t.rejects(client.call('MNU', { options: Array(21).fill('X') }), status(11), 'at most 20 options')
  t.same(pad.display.screen.lines, [])
})

t.test('MNU with the automatic cardholder choosing', async (t) => {
  const { client } = fieldPinpad(t, { cardholder: { autoMenuChoice: 3 } })
  t.same(await client.call('MNU', { options: ['A', 'B', 'C'] }), { PP_VALUE: '03' })
})
