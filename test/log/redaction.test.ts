/**
 * Redaction by explicit paths (src/log.ts): every card field is redacted at the top level of a
 * line and one level down under each key a line may carry an object in — whatever the level, in a
 * child logger too. And the asynchronous stderr output loses no line when the process exits at
 * once or dies of an uncaught exception.
 */
import t from 'tap'
import { execFile } from 'node:child_process'
import { Writable } from 'node:stream'
import { fileURLToPath } from 'node:url'
import { createLogger, LOG_CAPTURE_ENV } from '../../src/log.js'

const CARD_FIELDS = ['pan', 'card_number', 'cardNumber', 'track1', 'track2', 'track3', 'card_track_2', 'pinBlock', 'card_pin', 'card_hash', 'cardHash', 'encryption_key', 'encryptionKey', 'emvData', 'PP_VALUE', 'typedValue']
const CONTAINERS = ['card', 'request', 'response', 'result', 'answer', 'payment', 'fields', 'data', 'body']

function memoryLogger() {
  const lines: Array<Record<string, any>> = []
  const destination = new Writable({
    write(chunk, _enc, cb) {
      for (const l of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(l) as Record<string, any>)
      cb()
    },
  })
  return { log: createLogger({ level: 'trace', destination }), lines }
}

t.test('every card field is redacted, at the top level and under each container', async (t) => {
  const { log, lines } = memoryLogger()
  const secret = (field: string) => `SECRET-${field}`
  for (const field of CARD_FIELDS) {
    log.info({ [field]: secret(field), keep: 'visible' }, `top ${field}`)
    for (const container of CONTAINERS) log.warn({ [container]: { [field]: secret(field), keep: 'visible' } }, `${container} ${field}`)
  }
  log.child({ component: 'child' }).debug({ card: { pan: secret('pan') }, card_hash: secret('card_hash') }, 'child')
  t.equal(lines.length, CARD_FIELDS.length * (1 + CONTAINERS.length) + 1)
  const text = JSON.stringify(lines)
  t.notMatch(text, /SECRET-/, 'no card field value in any line')
  for (const field of CARD_FIELDS) {
    t.match(lines.find((l) => l.msg === `top ${field}`), { [field]: '[redacted]', keep: 'visible' }, field)
    for (const container of CONTAINERS) t.match(lines.find((l) => l.msg === `${container} ${field}`), { [container]: { [field]: '[redacted]', keep: 'visible' } })
  }
})

const SCRIPT = fileURLToPath(new URL('./many-lines.ts', import.meta.url))

function run(end: string, count: number): Promise<{ code: number | null; stderr: string }> {
  const env = { ...process.env }
  delete env[LOG_CAPTURE_ENV]
  return new Promise((resolve) => {
    const child = execFile(process.execPath, ['--import', 'tsx', SCRIPT, end, String(count)], { env, maxBuffer: 64 * 1024 * 1024 }, (_err, _stdout, stderr) =>
      resolve({ code: child.exitCode, stderr }),
    )
  })
}

t.test('the buffered output is flushed on exit and on a fatal error', async (t) => {
  const count = 20_000
  const exited = await run('exit', count)
  t.equal(exited.code, 0)
  t.equal(exited.stderr.split('\n').filter((l) => l.includes('"msg":"line"')).length, count, 'every line written before process.exit')
  const fatal = await run('fatal', count)
  t.equal(fatal.code, 1)
  const lines = fatal.stderr.split('\n').filter(Boolean)
  t.equal(lines.filter((l) => l.includes('"msg":"line"')).length, count, 'every line written before the exception')
  t.match(JSON.parse(lines.at(-1)!), { level: 60, msg: 'fatal', err: { message: 'boom' } }, 'and the fatal line, last')
})
