/**
 * The whole loop of the "Done when", over a real WebSocket and with no network beyond
 * 127.0.0.1: initialize → process_payment → the shop server authorizes the card hash with the
 * embedded sandbox acquirer → finish_payment with its answer. The card hash must open (with the
 * sandbox key of the data directory) to exactly the card the virtual pinpad presented, and the
 * acquirer's issuer data must reach the chip (FCX/FNC as the pinpad received it).
 *
 * Run against a spec 2.12 pinpad (GCX/GOX/FCX) and a 1.08 one (GCR/GOC/FNC).
 */
import t, { type Test } from 'tap'
import { decryptCardHash } from '../../src/acquirer/sandbox/index.js'
import { emvMap, parseEmv } from '../../src/abecs/emv-tlv.js'
import { findCard } from '../../src/simulator/cards.js'
import { DEFAULT_TABLES } from '../../src/tables/default-tables.js'
import { deriveIpek, deriveTransactionKey, pinKey } from '../../src/crypto/dukpt.js'
import { decryptPinBlock, parseIso0PinBlock } from '../../src/crypto/pin-block.js'
import { DEFAULT_DUKPT } from '../../src/simulator/virtual-pinpad.js'
import type { BridgeServer } from '../../src/server/app.js'
import { authorize, connect, ENCRYPTION_KEY, expectedFields, firstLast, pinpadOf, recordPinpad, startBridge, tempDir, type WsClient } from './helpers.js'

type Pin = 'online' | 'offline' | 'none'

interface Case {
  title: string
  card: string
  amount: number
  magstripeMethod?: 'credit_card' | 'debit_card'
  pin: Pin
}

const CASES: Case[] = [
  { title: 'chip with online PIN', card: 'visa-credit', amount: 1000, pin: 'online' },
  { title: 'chip with offline PIN', card: 'visa-credit-offline-pin', amount: 2500, pin: 'offline' },
  { title: 'chip debit, 19-digit PAN, PAN sequence number 2', card: 'maestro-debit', amount: 7777, pin: 'online' },
  { title: 'chip, Elo credit, PAN sequence number 0', card: 'elo-credit', amount: 320, pin: 'online' },
  { title: 'magstripe credit', card: 'magstripe-credit', amount: 1234_00, pin: 'none' },
  { title: 'magstripe debit with PIN', card: 'magstripe-debit', amount: 4990, magstripeMethod: 'debit_card', pin: 'online' },
  { title: 'contactless EMV', card: 'mastercard-contactless', amount: 1500, pin: 'none' },
  { title: 'contactless as magstripe (card type 05)', card: 'mastercard-contactless-magstripe', amount: 2200, pin: 'none' },
]

/** What the acquirer's HSM does with an online PIN: BDK + KSN → PIN key → ISO-0 block → PIN, bound to the PAN. */
function clearPin(block: string, ksn: string, pan: string): string {
  const k = Buffer.from(ksn, 'hex')
  const key = pinKey(deriveTransactionKey(deriveIpek(Buffer.from(DEFAULT_DUKPT.bdk, 'hex'), k), k))
  return parseIso0PinBlock(decryptPinBlock(Buffer.from(block, 'hex'), key), pan)
}

/** CVM Results (9F34) the chip reports: online enciphered PIN, plaintext offline PIN verified, no CVM. */
const CVM_RESULTS: Record<Pin, string> = { online: '420300', offline: '410302', none: '1F0302' }

async function initialize(t: Test, specVersion: '2.12' | '1.08'): Promise<{ server: BridgeServer; client: WsClient; dataDir: string }> {
  const dataDir = tempDir(t)
  const server = await startBridge(t, { dataDir, runtime: { simulator: { identity: { specVersion } } } })
  const client = await connect(t, server)
  const init = await client.call({ command: 'initialize', encryption_key: ENCRYPTION_KEY })
  t.same(init, { command: 'initialize', context: 'default', command_id: 1, success: true }, 'initialize succeeds')
  return { server, client, dataDir }
}

for (const specVersion of ['2.12', '1.08'] as const) {
  const abecs = specVersion === '2.12'
  t.test(`spec ${specVersion} pinpad: payments through the bridge and the sandbox acquirer`, async (t) => {
    const { server, client, dataDir } = await initialize(t, specVersion)
    const pad = pinpadOf(server)
    const sandbox = `${server.url}/sandbox/1`
    const rec = recordPinpad(pad)
    t.teardown(() => rec.stop())

    for (const c of CASES) {
      await t.test(c.title, async (t) => {
        const card = findCard(c.card)
        const chip = card.interface === 'chip' || card.interface === 'contactless-emv'
        const inSlot = card.interface === 'chip'
        rec.clear()
        pad.cardholder.present(c.card)

        const paid = await client.call({ command: 'process_payment', amount: c.amount, ...(c.magstripeMethod ? { magstripe_payment_method: c.magstripeMethod } : {}) })
        t.equal(paid.success, true, 'process_payment answers')
        const hash: string = paid.response.card_hash
        t.match(hash, /^\d+_[A-Za-z0-9+/]+={0,2}$/, 'card_hash is "<id>_<base64>"')
        t.same(
          { ...paid.response, card_hash: '…' },
          {
            status: 'accepted',
            card_hash: '…',
            payment_method: expectedFields(card, c.magstripeMethod).payment_method,
            is_online_pin: c.pin === 'online',
            card_holder_name: firstLast(card.holderName),
          },
          'process_payment response',
        )

        // The card hash opens to exactly the card presented.
        const fields = await decryptCardHash(hash, dataDir)
        const expected = expectedFields(card, c.magstripeMethod)
        const order = [
          ...Object.keys(expected),
          ...(chip ? ['card_emv_data'] : []),
          ...(c.pin === 'online' ? ['card_pin_mode', 'card_pin', 'card_pin_kek'] : c.pin === 'offline' ? ['card_pin_mode'] : []),
        ]
        t.same(Object.keys(fields), order, 'the form has these fields, in this order')
        t.same(Object.fromEntries(Object.entries(fields).filter(([k]) => k in expected)), expected, 'card fields')
        if (c.pin === 'online') {
          t.equal(fields.card_pin_mode, 'online')
          t.match(fields.card_pin, /^[0-9A-F]{16}$/, 'card_pin is an encrypted PIN block')
          t.match(fields.card_pin_kek, /^[0-9A-F]{20}$/, 'card_pin_kek is a KSN')
          t.equal(fields.card_pin_kek, pad.currentKsn(1)!.toString('hex').toUpperCase(), 'the KSN of the PIN entry just made')
          t.equal(clearPin(fields.card_pin!, fields.card_pin_kek!, card.pan), card.pin, 'the PIN block holds the PIN typed, bound to the PAN')
        } else if (c.pin === 'offline') {
          t.equal(fields.card_pin_mode, 'offline')
        }
        if (chip) {
          const emv = parseEmv(Buffer.from(fields.card_emv_data!, 'hex'))
          const tags = emv.map((o) => o.tag)
          // The application entry of the AID record the card's application matched.
          const record = DEFAULT_TABLES.aids.find((a) => a.aid === card.emv!.aid)!
          const app = DEFAULT_TABLES.applications.find((a) => a.acquirer_number === record.acquirer_number && a.record_number === record.record_index)!
          t.same(tags, app.emv_tags.filter((tag) => tags.includes(tag)), 'only the tags the tables ask for, in their order')
          const v = emvMap(Buffer.from(fields.card_emv_data!, 'hex'))
          const hex = (tag: string) => v.get(tag)?.toString('hex').toUpperCase()
          t.equal(hex('9F02'), String(c.amount).padStart(12, '0'), '9F02 amount')
          t.equal(hex('84'), card.emv!.aid, '84 the card application')
          t.equal(hex('82'), card.emv!.aip, '82 AIP')
          t.equal(hex('5F34'), card.panSequenceNumber.toString(16).padStart(2, '0'), '5F34 PAN sequence number')
          t.equal(hex('9F27'), '80', '9F27: an ARQC (the chip went online)')
          t.equal(hex('9F34'), CVM_RESULTS[c.pin], '9F34 CVM results')
          t.equal(v.get('9F26')?.length, 8, '9F26 cryptogram')
        }

        // The shop server authorizes with the acquirer.
        const auth = await authorize(sandbox, c.amount, hash)
        t.equal(auth.status, 200)
        t.match(auth.body, {
          object: 'transaction',
          status: 'paid',
          amount: c.amount,
          acquirer_response_code: '0000',
          capture_method: expected.capture_method,
          payment_method: expected.payment_method,
          card: { first_digits: card.pan.slice(0, 6), last_digits: card.pan.slice(-4), holder_name: firstLast(card.holderName), expiration_date: expected.card_expiration_date },
        })
        t.equal(typeof auth.body.card_emv_response, chip ? 'string' : 'undefined', 'issuer EMV data for chip captures only')

        const finish = await client.call({
          command: 'finish_payment',
          success: true,
          response_code: auth.body.acquirer_response_code,
          ...(auth.body.card_emv_response ? { emv_data: auth.body.card_emv_response } : {}),
        })
        t.same(
          finish,
          { command: 'finish_payment', context: 'default', command_id: finish.command_id, success: true, response: { approved: true } },
          'finish_payment succeeds: approved by the acquirer and the chip',
        )

        // What the pinpad went through for this payment (the idle screen aside).
        const steps = rec.ids().filter((id) => id !== 'DSP')
        const read = abecs ? ['GCX', 'GTK'] : ['GCR']
        const expectedSteps = [
          ...read,
          ...(chip ? [abecs ? 'GOX' : 'GOC'] : []),
          ...(!chip && c.pin === 'online' ? ['GPN'] : []),
          ...(chip ? [abecs ? 'FCX' : 'FNC'] : []),
          ...(inSlot ? ['RMC'] : []),
        ]
        t.same(steps, expectedSteps, 'pinpad commands')
        t.ok(rec.exchanges.every((e) => e.status === 0), 'every command answered 000')
        if (chip) {
          const issuer = auth.body.card_emv_response as string
          t.equal(emvMap(Buffer.from(issuer, 'hex')).get('8A')?.toString('latin1'), '00', 'the sandbox ARC')
          if (abecs) {
            const [fcx] = rec.find('FCX')
            t.equal(fcx!.request.SPE_FCXOPT, '0000', 'FCX: approved by the acquirer')
            t.equal(fcx!.request.SPE_ARC, '00', 'FCX carries the ARC')
            t.equal(fcx!.request.SPE_EMVDATA.toString('hex').toUpperCase(), issuer, 'FCX carries the issuer data (8A, 91) as the acquirer sent it')
            t.equal(fcx!.response.PP_FCXRES, '000', 'the chip approves')
          } else {
            const [fnc] = rec.find('FNC')
            t.equal(fnc!.request.FNC_COMMST, '0')
            t.equal(fnc!.request.FNC_ARC, '00', 'FNC carries the ARC')
            t.equal(fnc!.request.FNC_ISSDAT.toUpperCase(), issuer, 'FNC carries the issuer data (8A, 91)')
            t.equal(fnc!.response.FNC_DECISION, '0', 'the chip approves')
          }
        }
        const status = await client.call({ command: 'status' })
        t.equal(status.response.status, 'initialized', 'ready for the next payment')
      })
    }

    await t.test('declined by the acquirer (cents 05): the chip gets ARC 05 and declines', async (t) => {
      rec.clear()
      pad.cardholder.present('visa-credit')
      const amount = 1005
      const paid = await client.call({ command: 'process_payment', amount })
      t.equal(paid.response.status, 'accepted', 'the card hash is made; the acquirer decides')
      const auth = await authorize(sandbox, amount, paid.response.card_hash)
      t.match(auth.body, { status: 'refused', refuse_reason: 'acquirer', acquirer_response_code: '0005', authorization_code: null })
      const issuer = auth.body.card_emv_response as string
      const issuerTags = emvMap(Buffer.from(issuer, 'hex'))
      t.equal(issuerTags.get('8A')?.toString('latin1'), '05', '8A: ARC "05"')
      t.equal(issuerTags.get('91')?.length, 10, '91: 8-byte ARPC + ARC')
      t.equal(issuerTags.get('91')?.subarray(8).toString('latin1'), '05', '91 ends with the ARC')

      const finish = await client.call({ command: 'finish_payment', success: true, response_code: auth.body.acquirer_response_code, emv_data: issuer })
      t.equal(finish.success, true, 'finish_payment completes the chip transaction')
      t.same(finish.response, { approved: false }, 'not approved; the chip did not refuse an approval (nothing to reverse)')
      if (abecs) {
        const [fcx] = rec.find('FCX')
        t.equal(fcx!.request.SPE_FCXOPT, '1000', 'FCX: declined by the acquirer')
        t.equal(fcx!.request.SPE_ARC, '05', 'FCX carries ARC "05"')
        const received = emvMap(fcx!.request.SPE_EMVDATA)
        t.same(received.get('91'), issuerTags.get('91'), 'the issuer authentication data (91) reached the pinpad')
        t.equal(fcx!.response.PP_FCXRES, '100', 'the chip declines')
      } else {
        const [fnc] = rec.find('FNC')
        t.equal(fnc!.request.FNC_ARC, '05', 'FNC carries ARC "05"')
        t.same(emvMap(Buffer.from(fnc!.request.FNC_ISSDAT, 'hex')).get('91'), issuerTags.get('91'), 'the issuer authentication data (91) reached the pinpad')
        t.equal(fnc!.response.FNC_DECISION, '2', 'declined (by the acquirer)')
      }
      t.same(rec.ids().filter((id) => id !== 'DSP'), abecs ? ['GCX', 'GTK', 'GOX', 'FCX', 'RMC'] : ['GCR', 'GOC', 'FNC', 'RMC'])
    })

    await t.test('approved by the acquirer, then declined by the chip (cents 71): finish_payment says reverse it', async (t) => {
      rec.clear()
      pad.cardholder.present('visa-credit')
      const amount = 1071
      const paid = await client.call({ command: 'process_payment', amount })
      t.equal(paid.response.status, 'accepted')
      const auth = await authorize(sandbox, amount, paid.response.card_hash)
      t.match(auth.body, { status: 'paid', acquirer_response_code: '0000' })
      const finish = await client.call({
        command: 'finish_payment',
        success: true,
        response_code: auth.body.acquirer_response_code,
        emv_data: auth.body.card_emv_response,
      })
      t.equal(finish.success, true)
      t.same(finish.response, { approved: false, card_declined: true }, 'the chip refused an approval: the shop must reverse it')
      if (abecs) t.equal(rec.find('FCX')[0]!.response.PP_FCXRES, '100', 'FCX: the chip declines')
      else t.equal(rec.find('FNC')[0]!.response.FNC_DECISION, '1', 'FNC: declined by the card')
    })

    await t.test('the shop server got no answer from the acquirer: finish_payment success false', async (t) => {
      rec.clear()
      pad.cardholder.present('visa-credit')
      const paid = await client.call({ command: 'process_payment', amount: 1800 })
      t.equal(paid.response.status, 'accepted')
      const finish = await client.call({ command: 'finish_payment', success: false })
      t.equal(finish.success, true, 'finish_payment still completes the chip transaction')
      t.same(finish.response, { approved: false }, 'without the acquirer the chip does not approve')
      if (abecs) {
        const [fcx] = rec.find('FCX')
        t.same(fcx!.request, { SPE_FCXOPT: '2000' }, 'FCX: no communication with the acquirer, no ARC, no issuer data')
        t.equal(fcx!.response.PP_FCXRES, '100', 'the chip declines (unable to go online)')
      } else {
        const [fnc] = rec.find('FNC')
        t.match(fnc!.request, { FNC_COMMST: '1', FNC_ISSDAT: '' }, 'FNC: no communication, no issuer data')
        t.not(fnc!.response.FNC_DECISION, '0', 'the chip does not approve')
      }
      t.same(rec.ids().filter((id) => id !== 'DSP'), abecs ? ['GCX', 'GTK', 'GOX', 'FCX', 'RMC'] : ['GCR', 'GOC', 'FNC', 'RMC'])
    })

    await t.test('close', async (t) => {
      const closed = await client.call({ command: 'close' })
      t.equal(closed.success, true)
      t.equal(rec.ids().at(-1), 'CLO', 'the pinpad is closed')
    })
  })
}
