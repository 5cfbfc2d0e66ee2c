// The baseline of the CPU-per-payment figure: a payment's unavoidable work without the bridge's
// machinery. The same /ws messages (parsed, the same events and answers serialized, one corked write
// per turn of the event loop), the same journal transactions (src/journal, fsync and all), the
// same pinpad commands through the same ABECS stack (src/pinpad's dialect steps over src/abecs'
// link, serialport on a pty), the same card hash and the same log lines — called one after the
// other from plain async code: no XState actors, no sessions or contexts, no validation, no
// pairing, rate limits or metrics. What the bridge spends above this is what its design costs.
// Plain JavaScript run by plain node on the compiled tree (dist/); only the bench runs it.
//   --serial PATH --baud N --data-dir DIR      Prints {"port":N} on stdout once listening.
import { parseArgs } from 'node:util'
import { generateKeyPairSync } from 'node:crypto'
import { WebSocketServer } from 'ws'
import '../../dist/src/gc-tuning.js'
import { createLogger } from '../../dist/src/log.js'
import { Journal } from '../../dist/src/journal/store.js'
import { fingerprint } from '../../dist/src/server/journal-gate.js'
import { openSerialPort } from '../../dist/src/transport/serial-port.js'
import { HostLink } from '../../dist/src/abecs/link.js'
import { PinpadClient } from '../../dist/src/abecs/client.js'
import { identifyPinpad } from '../../dist/src/pinpad/identify.js'
import { Pinpad } from '../../dist/src/pinpad/pinpad.js'
import { CardVault } from '../../dist/src/card/vault.js'
import { cardOf } from '../../dist/src/pinpad/card-data.js'
import { removeCard, showText } from '../../dist/src/pinpad/steps.js'
import { createCardHash } from '../../dist/src/card/card-hash.js'

const { values } = parseArgs({ options: { serial: { type: 'string' }, baud: { type: 'string', default: '19200' }, 'data-dir': { type: 'string' }, port: { type: 'string', default: '0' } } })
const logger = createLogger({ level: 'info', pretty: false })
const journal = Journal.open({ dir: values['data-dir'] })
const vault = new CardVault()
const stream = await openSerialPort(values.serial, { baudRate: Number(values.baud) })
const link = new HostLink(stream)
link.on('trace', (e) => logger.trace({ device: 1, ...e }, 'link'))
const client = new PinpadClient(link)
const identity = await identifyPinpad(client, {})
const pinpad = new Pinpad(1, link, client, identity, vault)
// The bridge's card-hash key is kept per pinpad session too (a 2048-bit RSA key, as the sandbox's).
const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
const key = { id: 1796533222, publicKey: publicKey.export({ type: 'spki', format: 'pem' }) }
const CONTEXT = 'default'

const wss = new WebSocketServer({ host: '127.0.0.1', port: Number(values.port) })
wss.on('connection', (socket) => {
  const tcp = socket._socket
  let corked = false
  const send = (payload) => {
    if (!corked) {
      corked = true
      tcp.cork()
      process.nextTick(() => {
        corked = false
        tcp.uncork()
      })
    }
    socket.send(JSON.stringify(payload))
  }
  const status = (status, device_state, running_command) => send({ event: 'status', context: CONTEXT, status, device_state, ...(running_command ? { running_command } : {}) })
  const onNote = ({ message }) => send({ event: 'pinpad_message', context: CONTEXT, message, lines: [message.slice(0, 16).trimEnd(), message.slice(16).trimEnd()].filter(Boolean) })
  link.on('notification', onNote)
  socket.on('close', () => link.off('notification', onNote))

  const reply = (request, answer, t0) => {
    const message = { command: request.command, context: CONTEXT, ...(request.command_id !== undefined ? { command_id: request.command_id } : {}), ...answer }
    if (request.command_id !== undefined) journal.complete(CONTEXT, String(request.command_id), message, request.command === 'process_payment' ? { awaitingFinish: true } : { settles: true })
    logger.info({ session: '1', command: request.command, context: CONTEXT, command_id: request.command_id, success: answer.success, duration_ms: Math.round(performance.now() - t0) }, 'command')
    send(message)
  }
  const begin = (request) => {
    if (request.command_id === undefined) return
    journal.beginIfNew({ context: CONTEXT, key: String(request.command_id), command: request.command, fingerprint: fingerprint(request), request })
  }

  let payment
  // The idle DSP after a payment may still be on the wire when the next one starts: the bridge
  // stops its showIdle actor (a CAN, §2.2.2.3) and so does this.
  let idle
  socket.on('message', async (raw) => {
    const request = JSON.parse(String(raw))
    const t0 = performance.now()
    if (request.command === 'initialize') return reply(request, { success: true }, t0)
    if (request.command === 'process_payment') {
      begin(request)
      if (idle) {
        idle.controller.abort()
        await idle.shown
        idle = undefined
      }
      status('in_use', 'ready', 'process_payment')
      status('in_use', 'awaitingCard', 'process_payment')
      pinpad.customerDeadline = performance.now() + 60_000
      const read = await pinpad.dialect.readCard(pinpad, { amount: request.amount }, false)
      status('in_use', 'onChip', 'process_payment')
      await pinpad.dialect.goOnChip(pinpad, cardOf(vault, read.cardRef), request.amount)
      status('in_use', 'processed', 'process_payment')
      const card_hash = createCardHash(vault.get(read.cardRef), key)
      vault.drop(read.cardRef)
      payment = read.card
      send({ event: 'payment_status', context: CONTEXT, status: 'accepted' })
      reply(request, { success: true, response: { status: 'accepted', card_hash, payment_method: read.card.paymentMethod, is_online_pin: true, ...(read.card.holderName ? { card_holder_name: read.card.holderName } : {}) } }, t0)
      status('initialized', 'awaitingFinish')
      return
    }
    if (request.command === 'finish_payment') {
      begin(request)
      status('in_use', 'awaitingFinish', 'finish_payment')
      status('in_use', 'finishing', 'finish_payment')
      const result = await pinpad.dialect.finishChip(pinpad, payment.contactless, request)
      status('in_use', 'removingCard', 'finish_payment')
      await removeCard(pinpad, 'RETIRE O CARTAO')
      reply(request, { success: true, response: { approved: result.approved } }, t0)
      status('initialized', 'ready')
      const controller = new AbortController()
      idle = { controller, shown: showText(pinpad, 'MPOS BRIDGE PRONTO', controller.signal).catch(() => {}) }
    }
  })
})
wss.on('listening', () => process.stdout.write(`${JSON.stringify({ port: wss.address().port })}\n`))
process.on('SIGTERM', () => wss.close(() => link.close().then(() => process.exit(0))))
process.on('SIGUSR2', () => {
  globalThis.gc?.()
  process.stdout.write(`${JSON.stringify(process.memoryUsage())}\n`)
})
