/**
 * Graceful shutdown with a grace period: new connections and new work are refused at once, the
 * commands that end work still pass, a running payment may finish by itself within the grace —
 * and `serve` as a child process SIGTERMed mid-payment: the payment cancelled on the pinpad and
 * answered, exit 0 within the bound, the journal shows it done.
 */
import t from 'tap'
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { LOG_CAPTURE_ENV } from '../../src/log.js'
import { Client, EK, recordLink, startBridge, tempDir, until, WAIT_MS } from './helpers.js'

const BIN = fileURLToPath(new URL('../../bin/mpos-bridge.js', import.meta.url))
const ENV = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('MPOS_') || k === LOG_CAPTURE_ENV))

t.test('within the grace: no new work, a running payment ends by itself, then CLO', async (t) => {
  const rig = await startBridge(t, { shutdownGraceMs: 20_000 })
  const a = await Client.open(t, rig.wsUrl)
  const b = await Client.open(t, rig.wsUrl)
  t.match(await a.request({ command: 'initialize', encryption_key: EK, device_id: 1 }), { success: true })
  const pad = rig.pinpads[0]!
  pad.cardholder.options.autoCard = null
  const link = recordLink(pad)
  const from = a.messages.length
  a.sendRaw(JSON.stringify({ command: 'process_payment', amount: 1000, command_id: 'pay' }))
  await a.next((m) => m.event === 'pinpad_message' && m.lines[0] === 'APROXIME, INSIRA', from, 'the card prompt')

  const closed = rig.server.close()
  await until(() => rig.server.runtime !== undefined && b.open, 'b open')
  const refused = await b.request({ command: 'initialize', context: 'other', encryption_key: EK, device_id: 2 })
  t.match(refused, { success: false, code: 'MPOS_ERR_SHUTTING_DOWN', context: 'other' }, 'new work is refused')
  t.match(await b.request({ command: 'status' }), { success: true }, 'status still answers')
  const late = await Client.open(t, rig.wsUrl).catch((err: { statusCode?: number }) => err)
  t.match(late, { statusCode: 503 }, 'a new connection is refused with 503')

  pad.cardholder.insert('visa-credit')
  t.match(await a.reply('process_payment', from, 'pay'), { success: true, response: { status: 'accepted' } }, 'the payment finished within the grace')
  await closed
  t.ok(link.some((e) => e.type === 'command' && e.id === 'CLO'), 'then the pinpad got CLO')
  t.same(a.events('payment_status', from).map((e) => e.status), ['accepted'], 'its outcome pushed once: accepted, not cancelled')
  t.match(await a.closed, { code: 1001 })
})

t.test('serve SIGTERMed mid-payment: cancelled on the pinpad, answered, exit 0, journal done', async (t) => {
  const dataDir = await tempDir(t)
  const child = spawn(process.execPath, [BIN, 'serve', '--port', '0', '--data-dir', dataDir, '--no-discovery', '--shutdown-grace', '1'], { env: ENV, stdio: ['ignore', 'pipe', 'pipe'] })
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  })
  let err = ''
  child.stderr.setEncoding('utf8').on('data', (s: string) => (err += s))
  child.stdout.resume()
  const exited = new Promise<{ code: number | null; signal: string | null }>((r) => child.once('exit', (code, signal) => r({ code, signal })))
  await until(() => /mpos-bridge listening/.test(err) || child.exitCode !== null, 'serve listens')
  const url = /"url":"(http:[^"]+)"/.exec(err)![1]!
  const c = await Client.open(t, `${url.replace('http', 'ws')}/ws`, { protocol: 'mpos-bridge' })
  t.match(await c.request({ command: 'initialize', encryption_key: EK, command_id: 'init' }), { success: true })
  // Cents 12: nobody presents a card; the pinpad waits for one.
  const from = c.messages.length
  c.sendRaw(JSON.stringify({ command: 'process_payment', amount: 1012, command_id: 'mid' }))
  await c.next((m) => m.event === 'pinpad_message' && m.lines[0] === 'APROXIME, INSIRA', from, 'the card prompt')

  child.kill('SIGTERM')
  const answer = await c.reply('process_payment', from, 'mid')
  t.match(answer, { success: true, response: { status: 'canceled', error_type: 'MPOS_ERR_PAYMENT_CANCELED' } }, 'the payment was answered: cancelled')
  const exit = await Promise.race([exited, new Promise<'hung'>((r) => setTimeout(() => r('hung'), WAIT_MS).unref())])
  t.same(exit, { code: 0, signal: null }, 'exit 0 within the bound')
  t.match(await c.closed, { code: 1001 })
  const lines = err.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>)
  t.ok(lines.some((l) => l.msg === 'shutting down' && l.signal === 'SIGTERM' && l.grace_seconds === 1))
  t.ok(lines.some((l) => l.msg === 'stopped'), 'the stop is logged (flushed before exit)')

  const journal = await new Promise<string>((resolve) => {
    const j = spawn(process.execPath, [BIN, 'journal', '--json', '--data-dir', dataDir], { env: ENV, stdio: ['ignore', 'pipe', 'inherit'] })
    let out = ''
    j.stdout.setEncoding('utf8').on('data', (s: string) => (out += s))
    j.once('exit', () => resolve(out))
  })
  const rows = journal.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>)
  t.match(rows.find((r) => r.command_id === 'mid'), { command: 'process_payment', state: 'done', status: 'canceled' }, 'the journal has it done, with its answer')
})
