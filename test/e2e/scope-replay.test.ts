/**
 * The host side of the real SCOPE ↔ PPC-930 capture (test/fixtures/scope-capture.ts), replayed
 * unchanged — the same packets, framed as the host framed them — against `mpos-bridge simulate
 * --serial` with its defaults, through a socat pseudo-terminal pair. Every one of the 25 commands must
 * get the real device's RSP_ID and RSP_STAT; answers without data must match byte for byte, and the
 * TLV answers must carry the items the device's did where those do not depend on the card presented.
 */
import t, { type Test } from 'tap'
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { openPtyPair } from '../helpers/pty.js'
import { ScriptedHost } from '../helpers/scripted-host.js'
import { openSerialPort } from '../../src/transport/serial-port.js'
import { encodeFrame } from '../../src/abecs/frame.js'
import { decodeResponse } from '../../src/abecs/packet.js'
import { CAN, EOT } from '../../src/abecs/control.js'
import { SCOPE_EXCHANGES } from '../fixtures/scope-capture.js'

const BIN = fileURLToPath(new URL('../../bin/mpos-bridge.js', import.meta.url))
const ENV = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('MPOS_')))

function simulate(t: Test, path: string): Promise<void> {
  const child = spawn(process.execPath, [BIN, 'simulate', '--serial', path], { env: ENV, stdio: ['ignore', 'ignore', 'pipe'] })
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  t.teardown(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM')
    await exited
  })
  let err = ''
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`simulate did not start:\n${err}`)), 30_000)
    child.stderr!.setEncoding('utf8').on('data', (s: string) => {
      err += s
      if (/virtual pinpad ready/.test(err)) {
        clearTimeout(timer)
        resolve()
      }
    })
  })
}

/** TLV item ids of an answer, in order. */
function itemIds(answer: Buffer): string[] {
  const ids: string[] = []
  for (const block of decodeResponse(answer).blocks) {
    for (let pos = 0; pos < block.length; pos += 4 + block.readUInt16BE(pos + 2)) ids.push(block.readUInt16BE(pos).toString(16).toUpperCase())
  }
  return ids
}

t.test('the SCOPE capture replayed against `simulate --serial`: the real answer code for all 25 commands', async (t) => {
  const pty = await openPtyPair({ t })
  await simulate(t, pty.a)
  const port = await openSerialPort(pty.b)
  t.teardown(() => port.close())
  const host = new ScriptedHost(port)
  // SCOPE starts as any host should (§2.2.2.3).
  host.write([CAN])
  t.equal((await host.nextControl(3000)).byte, EOT)

  let matched = 0
  for (const [i, e] of SCOPE_EXCHANGES.entries()) {
    const data = Buffer.from(e.command, 'hex')
    const frame = encodeFrame(data)
    t.equal(frame.subarray(-2).toString('hex').toUpperCase(), e.crc, `#${i + 1} ${e.answer.slice(0, 3)}: framed with the CRC the host sent`)
    const answer = await host.command(data, 20_000)
    const got = answer.subarray(0, 6).toString('latin1')
    t.equal(got, e.answer, `#${i + 1} ${e.command.length > 12 ? data.subarray(0, 3).toString() : data.toString()}: ${e.answer}`)
    if (got === e.answer) matched++
    const real = e.response ? Buffer.from(e.response, 'hex') : undefined
    if (real && real.length === 6) t.same(answer, real, `#${i + 1}: byte for byte`)
    // Which items a GIX returns depends on the keys and tables, not on the card.
    if (real && e.answer === 'GIX000') t.same(itemIds(answer), itemIds(real), `#${i + 1}: the same GIX items`)
    if (real && e.answer === 'EBX000') t.same(itemIds(answer), itemIds(real), `#${i + 1}: PP_DATAOUT`)
  }
  t.equal(matched, SCOPE_EXCHANGES.length, `${matched}/${SCOPE_EXCHANGES.length} answers as the PPC-930 gave them`)
})
