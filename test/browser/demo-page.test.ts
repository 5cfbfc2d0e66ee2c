/**
 * The demo POS page (`/`) in headless Chromium, driven by clicks only — on the till (amount, Pay,
 * Cancel) and on the virtual pinpad beside it (present a card, PIN keys, ENTRA, remove, unplug):
 * approved end to end through the sandbox acquirer, declined by it, cancelled while waiting for the
 * card, the pinpad unplugged mid-payment, and the page reloaded mid-payment with the payment
 * recovered from the journal (never run twice). Screenshots: test-artifacts/demo-*.png.
 */
import t, { type Test } from 'tap'
import type { Page } from 'playwright-core'
import { startBridge, WAIT_MS, type Rig } from '../server/helpers.js'
import { findCard } from '../../src/simulator/cards.js'
import { artifact, launch } from './helpers.js'

/** One virtual pinpad whose cardholder does nothing unless clicked. */
async function demoRig(t: Test): Promise<Rig> {
  return startBridge(t, { demo: true, runtime: { virtualPinpads: 1, simulator: { cardholder: { autoCard: null, autoPin: null, presentAfterMs: 20, pinAfterMs: 20, removeAfterMs: 20 } } } })
}

/** The page's script errors and CSP violations (the console's errors), checked at the end of each test. */
const pageErrors = new WeakMap<Page, string[]>()
const errorsOf = (page: Page) => pageErrors.get(page) ?? []

async function openDemo(t: Test, rig: Rig): Promise<Page> {
  const browser = await launch(t)
  const page = await browser.newPage({ viewport: { width: 1000, height: 760 } })
  page.setDefaultTimeout(WAIT_MS)
  const errors: string[] = []
  page.on('pageerror', (e) => errors.push(e.message))
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text())
  })
  pageErrors.set(page, errors)
  await page.goto(`${rig.httpUrl}/`)
  await page.waitForSelector('body[data-ready=true]')
  return page
}

const deviceState = (rig: Rig) => rig.server.runtime.contexts()[0]?.device_state

async function payClick(page: Page, rig: Rig, amount: string): Promise<void> {
  await page.fill('#amount', amount)
  await page.click('#pay')
  await rig.until(() => deviceState(rig) === 'awaitingCard', 'the pinpad waits for a card')
}

/** The cardholder, by clicks on the virtual pinpad: a card, the PIN on the keypad, ENTRA; the card out when asked. */
async function cardholderClicks(page: Page, rig: Rig, card = 'visa-credit', how = 'insert'): Promise<void> {
  await page.selectOption('#card', card)
  await page.click(`#${how}`)
  await rig.until(() => deviceState(rig) !== 'awaitingCard', 'the card read')
  for (const key of ['1', '2', '3', '4', 'enter']) await page.click(`#keys [data-key="${key}"]`)
  await rig.until(() => deviceState(rig) === 'removingCard', 'the pinpad asks for the card back')
  await page.click('#remove')
}

const paymentsInJournal = (rig: Rig) => rig.server.journal.list().filter((e) => e.command === 'process_payment').length

t.test('approved end to end, then declined by the sandbox acquirer', async (t) => {
  const rig = await demoRig(t)
  const page = await openDemo(t, rig)
  await payClick(page, rig, '10.00')
  await page.waitForSelector('#prompt:has-text("CART")')
  t.match(await page.textContent('#prompt'), /CART/, "the pinpad's own prompt, live")
  await cardholderClicks(page, rig)
  await page.waitForSelector('#outcome[data-outcome=approved]')
  const result = (await page.textContent('#result'))!
  t.match(result, /visa 4761 •••• •••• 0010/, 'brand and masked card number')
  t.match(result, /credit card/)
  t.notOk(result.includes(findCard('visa-credit').pan), 'never the card number')
  t.match(await page.textContent('#outcome'), /Approved.*R\$ 10,00/)
  await page.screenshot({ path: artifact('demo-approved') })

  await payClick(page, rig, '10.51')
  await cardholderClicks(page, rig, 'mastercard-credit')
  await page.waitForSelector('#outcome[data-outcome=declined]')
  t.match(await page.textContent('#outcome'), /Declined.*0051/, 'insufficient funds, said by the acquirer')
  await page.screenshot({ path: artifact('demo-declined') })
  t.equal(paymentsInJournal(rig), 2)
  t.same(errorsOf(page), [], 'no script error, no CSP violation on the page')
})

t.test('cancelled while waiting for the card', async (t) => {
  const rig = await demoRig(t)
  const page = await openDemo(t, rig)
  await payClick(page, rig, '25.00')
  await page.click('#cancel')
  await page.waitForSelector('#outcome[data-outcome=cancelled]')
  t.match(await page.textContent('#outcome'), /Cancelled/)
  await page.screenshot({ path: artifact('demo-cancelled') })
  // The till takes the next payment.
  await payClick(page, rig, '5.00')
  await cardholderClicks(page, rig, 'elo-credit')
  await page.waitForSelector('#outcome[data-outcome=approved]')
  t.pass('the next payment is approved')
  t.same(errorsOf(page), [], 'no script error, no CSP violation on the page')
})

t.test('the pinpad unplugged mid-payment, then plugged back', async (t) => {
  const rig = await demoRig(t)
  const page = await openDemo(t, rig)
  await payClick(page, rig, '30.00')
  await page.click('#unplug')
  await page.waitForSelector('#outcome[data-outcome=failed]')
  t.match(await page.textContent('#outcome'), /DEVICE_DISCONNECTED|disconnected|unplugged|errored/i)
  await page.waitForSelector('#lcd:has-text("unplugged")')
  await page.screenshot({ path: artifact('demo-unplugged') })
  await page.click('#plug')
  await rig.until(() => rig.server.runtime.devices().length === 1, 'plugged back')
  await payClick(page, rig, '30.00')
  await cardholderClicks(page, rig)
  await page.waitForSelector('#outcome[data-outcome=approved]')
  t.pass('a payment after plugging it back is approved')
  t.same(errorsOf(page), [], 'no script error, no CSP violation on the page')
})

t.test('the page reloaded mid-payment recovers it from the journal', async (t) => {
  const rig = await demoRig(t)
  const page = await openDemo(t, rig)
  await payClick(page, rig, '42.00')
  await page.reload()
  await page.waitForSelector('body[data-ready=true], #pay:disabled')
  t.match(await page.textContent('#log'), /recovering payment/, 'the reloaded page knows its payment')
  await cardholderClicks(page, rig, 'mastercard-credit')
  await page.waitForSelector('#outcome[data-outcome=approved]')
  t.match(await page.textContent('#result'), /mastercard \d{4} •••• •••• \d{4}/)
  t.match(await page.textContent('#outcome'), /R\$ 42,00/)
  await page.screenshot({ path: artifact('demo-recovered') })
  t.equal(paymentsInJournal(rig), 1, 'one payment: recovered, not run again')
  t.equal(await page.evaluate(() => (globalThis as unknown as { sessionStorage: { getItem(k: string): string | null } }).sessionStorage.getItem('demo.payment')), null, 'nothing left pending')
  t.same(errorsOf(page), [], 'no script error, no CSP violation on the page')
})
