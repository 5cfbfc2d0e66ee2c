/**
 * The real `bin/mpos-bridge.js` run with node as a child process: help and usage errors,
 * `simulate` and `probe` talking to each other through a socat pty pair, `probe` against silence
 * and against a scripted spec 1.08 pinpad (the real MOBI PIN 10 answer), `simulate`'s shutdown and
 * logs (command ids, never card data), and `devices`.
 */
import t, { type Test } from 'tap'
import { spawn, type ChildProcess } from 'node:child_process'
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { openPtyPair } from '../helpers/pty.js'
import { ScriptedPinpad } from '../helpers/scripted-pinpad.js'
import { openSerialPort } from '../../src/transport/serial-port.js'
import { HostLink } from '../../src/abecs/link.js'
import { PinpadClient } from '../../src/abecs/client.js'
import { CAN } from '../../src/abecs/control.js'
import { LOG_CAPTURE_ENV } from '../../src/log.js'

const BIN = fileURLToPath(new URL('../../bin/mpos-bridge.js', import.meta.url))
/** The child sees none of the caller's MPOS_* settings, except the log capture of the suite's log scan. */
const ENV = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('MPOS_') || k === LOG_CAPTURE_ENV))

interface Run {
  child: ChildProcess
  stdout: () => string
  stderr: () => string
  /** Resolves with the exit code (null if killed by a signal) once the process has exited. */
  exited: Promise<number | null>
  /** Resolves once stderr matches. */
  waitForStderr(pattern: RegExp, timeoutMs?: number): Promise<void>
}

function start(t: Test, args: string[]): Run {
  const child = spawn(process.execPath, [BIN, ...args], { env: ENV, stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  let err = ''
  child.stdout!.setEncoding('utf8').on('data', (s: string) => (out += s))
  child.stderr!.setEncoding('utf8').on('data', (s: string) => (err += s))
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  t.teardown(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL')
      await exited
    }
  })
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    exited,
    waitForStderr: (pattern, timeoutMs = 15_000) =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`stderr never matched ${pattern}:\n${err}`)), timeoutMs)
        const check = () => {
          if (!pattern.test(err)) return
          clearTimeout(timer)
          child.stderr!.off('data', check)
          resolve()
        }
        child.stderr!.on('data', check)
        check()
      }),
  }
}

async function run(t: Test, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const r = start(t, args)
  const code = await r.exited
  return { code, stdout: r.stdout(), stderr: r.stderr() }
}

/** pino's JSON lines. */
const logLines = (stderr: string): Array<Record<string, unknown>> =>
  stderr
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>)

t.test('--help lists the commands and their flags', async (t) => {
  const [{ code, stdout }, probe] = await Promise.all([run(t, ['--help']), run(t, ['probe', '--help'])])
  t.equal(code, 0)
  for (const command of ['devices', 'probe', 'simulate']) t.match(stdout, new RegExp(`^  ${command} `, 'm'), `command ${command}`)
  for (const flag of ['--serial PATH', '--baud N', '--timeout-ms MS', '--card NAME', '--present-after MS', '--spec 1.08|2.12', '--empty-tables', '--pace', '--log-level LEVEL']) {
    t.ok(stdout.includes(flag), `flag ${flag}`)
  }
  t.equal(probe.code, 0)
  t.match(probe.stdout, /^mpos-bridge probe \[options\]/)
  t.notMatch(probe.stdout, /--present-after/, 'only the command\'s own flags')
})

t.test('usage errors exit with 2', async (t) => {
  const [unknown, missing, badFlag, badTimeout] = await Promise.all([
    run(t, ['frobnicate']),
    run(t, ['probe']),
    run(t, ['simulate', '--serial', '/dev/null', '--bogus']),
    run(t, ['probe', '--serial', '/dev/null', '--timeout-ms', 'soon']),
  ])
  t.equal(unknown.code, 2)
  t.match(unknown.stderr, /unknown command "frobnicate"/)
  t.equal(missing.code, 2)
  t.match(JSON.parse(missing.stderr), { error: { code: 'MPOS_ERR_USAGE', message: /--serial/ } })
  t.equal(badFlag.code, 2)
  t.match(JSON.parse(badFlag.stderr), { error: { code: 'MPOS_ERR_USAGE', message: /bogus/ } })
  t.equal(badTimeout.code, 2, 'a --timeout-ms that is not a number')
  t.match(JSON.parse(badTimeout.stderr), { error: { code: 'MPOS_ERR_USAGE', message: /--timeout-ms/ } })
})

t.test('simulate on one pty end, probe on the other: the identity as JSON', async (t) => {
  const pty = await openPtyPair({ t })
  const sim = start(t, ['simulate', '--serial', pty.a, '--log-level', 'info'])
  await sim.waitForStderr(/virtual pinpad ready/)
  const probe = await run(t, ['probe', '--serial', pty.b, '--timeout-ms', '3000'])
  t.equal(probe.code, 0, probe.stderr)
  const info = JSON.parse(probe.stdout)
  t.same(info, {
    path: pty.b,
    manufacturer: 'GERTEC',
    model: 'MOBI PIN 10',
    serialNumber: 'VPP0000000000001',
    firmwareVersion: 'VPP-OS 1.0',
    specVersion: '2.12',
    managerVersion: '001.00 261127',
    contactless: true,
    // simulate starts as a terminal from the field: the PPC-930's DUKPT:TDES:PIN slots (src/simulator/field-terminal.ts).
    dukptKeys: [1, 2, 3, 8, 10, 12, 13, 14, 16, 17, 18, 19, 20, 21, 22, 23, 25, 26, 29],
    abecs: true,
  })
  await sim.waitForStderr(/"command":"CLO".*"status"/)
  const commands = logLines(sim.stderr())
    .filter((l) => l.msg === 'command')
    .map((l) => l.command)
  t.same(commands, ['OPN', 'GIN', 'GIX', 'CLO'], 'the simulator logged the probe\'s commands')
  sim.child.kill('SIGTERM')
  t.equal(await sim.exited, 0)
  const captureDir = process.env[LOG_CAPTURE_ENV]
  if (captureDir) {
    // The suite's log capture (test/zz-log-scan.test.ts) reaches child processes: every line, debug ones too.
    const captured = readFileSync(path.resolve(captureDir, `${sim.child.pid}.ndjson`), 'utf8')
    t.ok(sim.stderr().split('\n').filter((l) => l.startsWith('{')).every((l) => captured.includes(`${l}\n`)), 'the log capture has every line of stderr')
    t.ok(logLines(captured).some((l) => l.level === 20 && l.msg === 'display'), 'and the debug lines')
  }
})

t.test('probe with nobody on the other end: a JSON error naming what did not answer, exit 1', async (t) => {
  const pty = await openPtyPair({ t })
  const probe = await run(t, ['probe', '--serial', pty.b, '--timeout-ms', '300'])
  t.equal(probe.code, 1)
  const { error } = JSON.parse(probe.stderr.trim().split('\n').pop()!)
  t.match(error.code, /^MPOS_ERR_LINK_(ACK_TIMEOUT|CANCEL_FAILED)$/)
  t.match(error.message, /pinpad did not/)
  t.equal(probe.stdout, '', 'no identity printed')
  // The waits are --timeout-ms (300 ms for ACK and for each EOT), not the link's 2 s.
  t.match(error.message, error.code === 'MPOS_ERR_LINK_ACK_TIMEOUT' ? /within 300 ms/ : /after 3 CAN/, 'the short --timeout-ms bounds the waits')
})

t.test('probe against a spec 1.08 pinpad (the real MOBI PIN 10 answer to GIN 00)', async (t) => {
  const pty = await openPtyPair({ t })
  const port = await openSerialPort(pty.a)
  t.teardown(() => port.close())
  const fake = new ScriptedPinpad(port)
  const probing = run(t, ['probe', '--serial', pty.b, '--timeout-ms', '3000'])

  const seen: string[] = []
  // A hang guard, not a timing: a child process may take long to start on a loaded machine.
  t.equal(await fake.nextControl(30_000), CAN, 'the probe starts with CAN')
  fake.eot()
  seen.push(await fake.nextPacket())
  fake.ack()
  fake.respond('OPN000')
  seen.push(await fake.nextPacket())
  fake.ack()
  fake.respond('GIN000100GERTEC              MOBI PIN 10         0040_0022_0026_0110@1.08001.03 150113       8000021509010882')
  seen.push(await fake.nextPacket())
  fake.ack()
  fake.respond('GIN010') // no layout "03" on this firmware
  seen.push(await fake.nextPacket())
  fake.ack()
  fake.respond('CLO000')

  const probe = await probing
  t.equal(probe.code, 0, probe.stderr)
  t.same(seen, ['OPN', 'GIN00200', 'GIN00203', `CLO032${' '.repeat(32)}`], 'no GIX for a 1.x pinpad')
  t.same(JSON.parse(probe.stdout), {
    path: pty.b,
    manufacturer: 'GERTEC',
    model: 'MOBI PIN 10',
    serialNumber: '8000021509010882',
    firmwareVersion: '0040_0022_0026_0110@',
    specVersion: '1.08',
    managerVersion: '001.03 150113',
    contactless: false,
    dukptKeys: [],
    abecs: false,
  })
})

t.test('probe reads the DUKPT key of a 1.08 pinpad from GIN "03"; simulate --spec 1.08 is such a pinpad', async (t) => {
  const pty = await openPtyPair({ t })
  const sim = start(t, ['simulate', '--serial', pty.a, '--spec', '1.08'])
  await sim.waitForStderr(/virtual pinpad ready/)
  const probe = await run(t, ['probe', '--serial', pty.b, '--timeout-ms', '3000'])
  t.equal(probe.code, 0, probe.stderr)
  t.match(JSON.parse(probe.stdout), { specVersion: '1.08', abecs: false, dukptKeys: [1], manufacturer: 'GERTEC' })
  sim.child.kill('SIGINT')
  t.equal(await sim.exited, 0)
})

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  t.test(`simulate exits 0 on ${signal}, having logged command ids and no card data`, async (t) => {
    const pty = await openPtyPair({ t })
    const sim = start(t, ['simulate', '--serial', pty.a, '--present-after', '50', '--log-level', 'trace'])
    await sim.waitForStderr(/virtual pinpad ready/)
    const port = await openSerialPort(pty.b)
    const link = new HostLink(port)
    t.teardown(() => link.close())
    const client = new PinpadClient(link)
    await link.open()
    const card = await client.call('GCX', { SPE_TRNDATE: '260115', SPE_TRNTIME: '101500', SPE_AMOUNT: 5000 })
    t.equal(card.PP_PAN, '4761739001010010', 'the host did get the card')
    const tracks = await client.call('GTK', {})
    t.ok(tracks.PP_TRACK2)
    await client.call('GOX', { SPE_ACQREF: 1, SPE_MTHDPIN: '3', SPE_KEYIDX: 1, SPE_TAGLIST: ['5A', '57', '9F26'] })
    await sim.waitForStderr(/"command":"GOX","status"/)

    sim.child.kill(signal)
    t.equal(await sim.exited, 0)
    const stderr = sim.stderr()
    const lines = logLines(stderr)
    // What the log says, without the numbers pino adds (a timestamp could hold any digits).
    const said = [
      ...stderr.split('\n').filter((l) => l && !l.startsWith('{')),
      ...lines.map(({ time: _t, pid: _p, hostname: _h, ...rest }) => JSON.stringify(rest)),
    ].join('\n')
    t.same(
      lines.filter((l) => l.msg === 'command').map((l) => l.command),
      ['GCX', 'GTK', 'GOX'],
    )
    t.ok(lines.some((l) => l.msg === 'stopping' && l.reason === signal), `logged the stop (${signal})`)
    t.ok(said.includes('GCX'))
    for (const secret of ['4761739001010010', '476173900101', '4761', '3012201', 'SILVA', '=3012', 'D3012']) {
      t.notOk(said.includes(secret), `no ${secret} in the log`)
    }
  })
}

t.test('devices --serial lists the pty', async (t) => {
  const pty = await openPtyPair({ t })
  const { code, stdout } = await run(t, ['devices', '--serial', pty.a])
  t.equal(code, 0)
  const ports = JSON.parse(stdout) as Array<{ path: string; source?: string }>
  t.ok(Array.isArray(ports))
  t.match(ports.find((p) => p.path === pty.a), { path: pty.a }, 'the configured pty is listed')
  t.notOk(ports.some((p) => p.path === pty.b), 'the other end was not asked for')
})
