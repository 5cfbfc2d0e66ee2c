/**
 * The live state inspector of /devtools in a real headless Chromium: a till (a /ws client in
 * this test) takes a payment on the virtual pinpad, the card presented by a click on the page's
 * own pinpad controls, while the page draws the device machine's diagram and moves the highlight
 * through awaitingCard → onChip → processed → … → ready; then its event log is filtered, paused,
 * and exported as JSON lines that hold no key and no card data. The page loads nothing from
 * another origin. Screenshots go to artifacts/ (ignored by git).
 *
 * Chromium comes from Debian (`apt-get install -y chromium`, done by .ci/run); without it this
 * test fails, it never skips.
 */
import t, { type Test } from 'tap'
import { execFileSync } from 'node:child_process'
import { mkdirSync, readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { chromium, type Browser, type Page } from 'playwright-core'
import { findCard } from '../../src/simulator/cards.js'
import { TYPED_VALUES } from '../fixtures/typed-values.js'
import { Client, EK, startBridge, WAIT_MS } from '../server/helpers.js'

const ARTIFACTS = fileURLToPath(new URL('../../artifacts/', import.meta.url))

async function launch(t: Test): Promise<Browser> {
  let executablePath: string
  try {
    executablePath = execFileSync('which', ['chromium'], { encoding: 'utf8' }).trim()
  } catch {
    throw new Error('chromium is not installed: run `apt-get install -y chromium` (.ci/run does)')
  }
  const browser = await chromium.launch({
    executablePath,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-quic', '--no-first-run', '--disable-component-update', '--disable-sync'],
  })
  t.teardown(() => browser.close())
  return browser
}

/** The device card's active leaves (`data-active` of its diagram), once drawn. */
// The browser-side code is given as strings (page.evaluate, run by the debugger protocol), or as
// functions typed with this much of the DOM (waitForFunction: its string form would be an eval, which
// the page's CSP refuses): the project's TypeScript has no DOM types.
interface Dom {
  querySelector(selector: string): { getAttribute(name: string): string | null } | null
  getElementById(id: string): { textContent: string | null } | null
}
const activeOf = (page: Page, actor: string) =>
  page.evaluate(`document.querySelector('.actor[data-actor="${actor}"] .diagram')?.getAttribute('data-active') ?? null`) as Promise<string | null>

async function waitActive(page: Page, actor: string, leaf: RegExp, what: string): Promise<void> {
  await page
    .waitForFunction(
      ([a, source]) => new RegExp(source).test((globalThis as unknown as { document: Dom }).document.querySelector(`.actor[data-actor="${a}"] .diagram`)?.getAttribute('data-active') ?? '\u0000'),
      [actor, leaf.source] as const,
      { timeout: WAIT_MS },
    )
    .catch(async (err: Error) => {
      throw new Error(`${what}: ${actor} never showed ${leaf} (it shows ${await activeOf(page, actor)}): ${err.message}`)
    })
}

const rows = (page: Page) =>
  page.evaluate(`[...document.querySelectorAll('#log tbody tr')].map((tr) => ({ seq: Number(tr.dataset.seq), actor: tr.dataset.actor, context: tr.dataset.context }))`) as Promise<
    Array<{ seq: number; actor: string; context: string }>
  >

async function exportLines(page: Page): Promise<Array<Record<string, unknown>>> {
  const [download] = await Promise.all([page.waitForEvent('download', { timeout: WAIT_MS }), page.click('#export')])
  t.match(download.suggestedFilename(), /^mpos-bridge-events-.+\.jsonl$/)
  const text = readFileSync((await download.path())!, 'utf8')
  return text
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>)
}

t.test('the inspector follows a payment on the device diagram; its log filters, pauses and exports without card data', async (t) => {
  // The cardholder presents no card by themselves: the page's click does.
  const rig = await startBridge(t, {
    devtools: true,
    runtime: { simulator: { cardholder: { autoCard: null, presentAfterMs: 50, pinAfterMs: 50, removeAfterMs: 50 } } },
  })
  const browser = await launch(t)
  const page = await browser.newPage({ viewport: { width: 1600, height: 1100 } })
  const foreign: string[] = []
  page.on('request', (r) => {
    if (!r.url().startsWith(rig.httpUrl) && !r.url().startsWith('blob:')) foreign.push(r.url())
  })
  const pageErrors: string[] = []
  page.on('pageerror', (e) => pageErrors.push(e.stack ?? e.message))
  await page.goto(`${rig.httpUrl}/devtools`)
  await page.waitForFunction(() => (globalThis as unknown as { document: Dom }).document.getElementById('conn')?.textContent === 'live', undefined, { timeout: WAIT_MS })

  const till = await Client.open(t, rig.wsUrl)
  t.match(await till.request({ command: 'initialize', context: 'till-1', encryption_key: EK, device_id: 1 }), { success: true })
  await waitActive(page, 'device:1', /^connected\.ready$/, 'after initialize')
  await waitActive(page, 'context:till-1', /activity\.ready/, 'the context after initialize')
  t.equal(await page.textContent('.actor[data-actor="device:1"] .ctx'), 'context till-1', 'the device says whose it is')
  t.ok(await page.$('.actor[data-actor="bridge"] .diagram svg'), 'the bridge is drawn')
  t.ok(await page.$('.actor[data-actor^="session:"] .diagram svg'), 'the till\'s session is drawn')

  // Every state node of the device diagram that lights up, in order, and how many at once.
  await page.evaluate(`(() => {
    window.__trail = []
    window.__together = 0
    const box = document.querySelector('.actor[data-actor="device:1"] .diagram')
    new MutationObserver((records) => {
      for (const r of records) {
        const g = r.target
        if (g.classList.contains('node') && g.classList.contains('active') && !(r.oldValue ?? '').split(' ').includes('active')) window.__trail.push(g.dataset.state)
      }
      window.__together = Math.max(window.__together, box.querySelectorAll('g.node.active').length)
    }).observe(box, { subtree: true, attributes: true, attributeFilter: ['class'], attributeOldValue: true })
  })()`)

  const card = findCard('visa-credit')
  const paying = till.request({ command: 'process_payment', context: 'till-1', amount: 1000, command_id: 'pay-1' })
  await waitActive(page, 'device:1', /awaitingCard/, 'waiting for the card')
  t.comment('active while waiting: ' + (await activeOf(page, 'device:1')))
  t.match(await activeOf(page, 'device:1'), /connected\.payment\.steps\.cardholder\.awaitingCard/, 'the card step is lit')
  t.match(await activeOf(page, 'device:1'), /connected\.payment\.cardHashKey\.(fetching|fetched)/, 'and, in parallel, the card hash key region')
  const lit = (await page.evaluate(`[...document.querySelectorAll('.actor[data-actor="device:1"] g.state.active')].map((g) => g.dataset.state)`)) as string[]
  t.ok(lit.includes('device.connected') && lit.includes('device.connected.payment'), 'the enclosing states are lit too: ' + lit.join(' '))
  mkdirSync(ARTIFACTS, { recursive: true })
  await page.click('.actor[data-actor="device:1"] .diagram') // zoomed in, the active node in view
  t.ok(await page.$('.actor[data-actor="device:1"] .diagram.zoomed'), 'a click zooms the diagram')
  await page.evaluate('window.scrollTo(0, 0)')
  await page.screenshot({ path: `${ARTIFACTS}inspector-awaiting-card.png` })
  await page.click('.actor[data-actor="device:1"] .diagram')

  // The cardholder, by a click on the page's own pinpad controls.
  await page.selectOption('#pad1 select.card', card.name)
  await page.click('#pad1 button[data-a="present"]')
  const payment = await paying
  t.match(payment, { success: true, response: { status: 'accepted', card_holder_name: String } })
  const finishing = till.request({ command: 'finish_payment', context: 'till-1', success: true, response_code: '0000', command_id: 'fin-1' })
  await waitActive(page, 'device:1', /removingCard/, 'the pinpad asks for the card back')
  await page.click('#pad1 button[data-a="remove"]')
  t.match(await finishing, { success: true, response: { approved: true } })
  await waitActive(page, 'device:1', /^connected\.ready$/, 'after the payment')

  const trail = (await page.evaluate('window.__trail')) as string[]
  const short = trail.map((s) => s.replace(/^device\.connected\.(payment\.steps\.cardholder\.|payment\.steps\.|payment\.)?/, ''))
  const order = ['awaitingCard', 'onChip', 'processed.', 'awaitingFinish', 'finishing', 'removingCard', 'ready']
  let at = -1
  for (const step of order) {
    const next = short.findIndex((s, i) => i > at && (step.endsWith('.') ? s.startsWith(step) : s === step))
    t.ok(next > at, `the highlight went to ${step} (after the step before it)`)
    if (next > at) at = next
  }
  t.ok(((await page.evaluate('window.__together')) as number) >= 2, 'parallel regions: several nodes lit at once')
  t.comment(`device highlight trail: ${short.join(' → ')}`)

  // A prompt whose answer is what the customer typed (it must never show).
  const asking = till.request({ command: 'pinpad_input', context: 'till-1', prompt: 'cpf', command_id: 'cpf-1' })
  await waitActive(page, 'device:1', /awaitingInput/, 'the prompt')
  await page.fill('#pad1 input.data', TYPED_VALUES.cpf)
  await page.click('#pad1 button[data-a="enter"]')
  t.match(await asking, { success: true, response: { value: TYPED_VALUES.cpf } })
  await waitActive(page, 'device:1', /^connected\.ready$/, 'after the prompt')
  await page.screenshot({ path: `${ARTIFACTS}inspector.png`, fullPage: true })

  // A context name is the client's: drawn as text, never as markup.
  const evil = '<img src=x onerror="window.__xss=1">'
  const other = await Client.open(t, rig.wsUrl)
  t.match(await other.request({ command: 'status', context: evil }), { success: true })
  await page.waitForFunction((name) => [...((globalThis as unknown as { document: { querySelectorAll(s: string): Iterable<{ getAttribute(n: string): string | null }> } }).document.querySelectorAll('.actor'))].some((el) => el.getAttribute('data-actor') === `context:${name}`), evil, { timeout: WAIT_MS })
  t.equal(await page.evaluate(`document.querySelectorAll('#inspector img').length`), 0, 'no element made of a context name')
  t.equal(await page.evaluate('window.__xss'), undefined, 'no script ran')
  t.ok(((await page.evaluate(`[...document.querySelectorAll('#filter-context option')].map((o) => o.value)`)) as string[]).includes(evil), 'the name is a filter option, as text')
  other.terminate()

  // Filter by actor, then by context.
  await page.selectOption('#filter-actor', 'device:1')
  const deviceRows = await rows(page)
  t.ok(deviceRows.length > 10, `the device's events (${deviceRows.length})`)
  t.ok(deviceRows.every((r) => r.actor === 'device:1'), 'only the device')
  await page.selectOption('#filter-actor', '')
  await page.selectOption('#filter-context', 'till-1')
  const contextRows = await rows(page)
  t.ok(contextRows.length > deviceRows.length, 'the context filter shows more than the device')
  t.ok(contextRows.every((r) => r.context === 'till-1'), 'only what concerns till-1')
  t.ok(new Set(contextRows.map((r) => r.actor)).size >= 3, 'of several actors (the context, its device, the session, the bridge…)')
  const inDevice = (await page.evaluate(`[...document.querySelectorAll('#log tbody tr td.ev b')].map((b) => b.textContent)`)) as string[]
  t.ok(inDevice.includes('xstate.done.actor.readCard'), 'the card read is in the log')

  // Pause: new events are held, not shown, until resumed.
  const before = (await rows(page)).length
  await page.click('#pause')
  t.equal(await page.textContent('#pause'), 'Resume')
  t.match(await till.request({ command: 'display_message', context: 'till-1', message: 'OBRIGADO' }), { success: true })
  await page.waitForFunction(() => /^[1-9]\d* new while paused$/.test((globalThis as unknown as { document: Dom }).document.getElementById('held')?.textContent ?? ''), undefined, { timeout: WAIT_MS })
  t.equal((await rows(page)).length, before, 'paused: the table did not move')
  const top = (await rows(page))[0]!.seq
  await page.click('#pause')
  t.ok((await rows(page))[0]!.seq > top, 'resumed: the held events are shown')
  t.equal(await page.textContent('#held'), '', 'nothing held any more')

  // Export what the filter shows, then everything.
  const tillLines = await exportLines(page)
  t.ok(tillLines.length > 0 && tillLines.every((l) => l.contextName === 'till-1'), `the export is what the filter shows (${tillLines.length} lines)`)
  await page.selectOption('#filter-context', '')
  const lines = await exportLines(page)
  t.ok(lines.length > tillLines.length, `everything (${lines.length} lines)`)
  t.ok(lines.every((l) => typeof l.seq === 'number' && typeof l.actor === 'string' && typeof l.type === 'string' && 'event' in l), 'one event a line: seq, actor, type, event')
  t.ok(lines.some((l) => l.actor === 'device:1' && l.type === 'xstate.done.actor.readCard'), 'the card read')
  t.ok(lines.some((l) => l.actor === 'device:1' && JSON.stringify(l.state)?.includes('awaitingFinish')), 'with the state each event led to')
  const text = JSON.stringify(lines)
  const secrets: Record<string, string> = {
    'card number': card.pan,
    'cardholder name': card.holderName,
    'cardholder name as answered': String(payment.response.card_holder_name),
    'card hash': String(payment.response.card_hash),
    'encryption key': EK,
    'typed value': TYPED_VALUES.cpf,
    'PIN typed by the cardholder': `"${card.pin}"`,
  }
  for (const [what, secret] of Object.entries(secrets)) t.notOk(text.includes(secret), `no ${what} in the export`)
  t.ok(text.includes('[hidden]'), 'it says what it hid')

  t.same(foreign, [], 'the page loaded nothing from another origin (it works offline)')
  t.same(pageErrors, [], 'no error in the page: ' + pageErrors.join(' / '))
})
