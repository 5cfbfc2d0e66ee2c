import t from 'tap'
import { execFile, spawn } from 'node:child_process'
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'
import { openPtyPair } from '../helpers/pty.js'
import { SerialPortMock, type SerialPort } from 'serialport'
import { openSerialPort, SerialByteStream } from '../../src/transport/serial-port.js'

const run = promisify(execFile)

/** Resolves with the first `n` bytes the stream receives; `timeoutMs` is a hang guard, generous for a busy machine. */
function receive(stream: SerialByteStream, n: number, timeoutMs = 10_000): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let got = 0
    const timer = setTimeout(() => {
      off()
      reject(new Error(`received ${got} of ${n} bytes`))
    }, timeoutMs)
    const off = stream.onData((chunk) => {
      chunks.push(chunk)
      got += chunk.length
      if (got >= n) {
        clearTimeout(timer)
        off()
        resolve(Buffer.concat(chunks).subarray(0, n))
      }
    })
  })
}

function closeReason(stream: SerialByteStream, timeoutMs = 10_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('onClose did not fire')), timeoutMs)
    stream.onClose((reason) => {
      clearTimeout(timer)
      resolve(reason)
    })
  })
}

async function open(t: { teardown(fn: () => unknown): void }, portPath: string, baudRate?: number): Promise<SerialByteStream> {
  const s = await openSerialPort(portPath, baudRate === undefined ? {} : { baudRate })
  t.teardown(() => s.close())
  return s
}

/** The tty settings as the kernel holds them (`stty -a`). */
async function stty(portPath: string): Promise<string> {
  const { stdout } = await run('stty', ['-F', portPath, '-a'])
  return stdout
}

t.test('every byte value crosses the pty pair unchanged, both ways', async (t) => {
  const pty = await openPtyPair({ t })
  const a = await open(t, pty.a)
  const b = await open(t, pty.b)
  const all = Buffer.from(Array.from({ length: 256 }, (_, i) => i))
  const payload = Buffer.concat([all, Buffer.from(all).reverse(), all])

  const atB = receive(b, payload.length)
  a.write(payload)
  t.same(await atB, payload, 'a → b')

  const atA = receive(a, payload.length)
  b.write(payload)
  t.same(await atA, payload, 'b → a')

  // Control bytes a cooked tty would act on, each in a write of its own.
  const controls = [0x11, 0x13, 0x0d, 0x0a, 0x03, 0x04, 0x1a, 0x1c, 0x7f, 0x00, 0xff, 0x16, 0x17, 0x15, 0x06, 0x18]
  const atB2 = receive(b, controls.length)
  for (const byte of controls) a.write(Uint8Array.of(byte))
  t.same([...(await atB2)], controls, 'lone control bytes')
})

t.test('the port is 8N1 raw, no flow control, at the default 19200 baud', async (t) => {
  const pty = await openPtyPair({ t })
  const a = await open(t, pty.a)
  t.equal(a.description, pty.a)
  t.equal(a.baudRate, 19200)
  const flags = (await stty(pty.a)).split(/[\s;]+/)
  t.ok(flags.includes('19200'), 'speed 19200')
  for (const flag of ['cs8', '-parenb', '-cstopb', '-crtscts', '-ixon', '-ixoff', '-icanon', '-isig', '-echo', '-icrnl', '-opost']) {
    t.ok(flags.includes(flag), flag)
  }
})

t.test('the baud rate is configurable', async (t) => {
  const pty = await openPtyPair({ t })
  const a = await open(t, pty.a, 9600)
  t.equal(a.baudRate, 9600)
  t.match(await stty(pty.a), /speed 9600 baud/)
  const b = await open(t, pty.b, 115200)
  t.match(await stty(pty.b), /speed 115200 baud/)
  const got = receive(b, 3)
  a.write(Buffer.from('abc'))
  t.equal((await got).toString(), 'abc')
})

t.test('close() is clean: reason "closed", bytes already written still arrive, the path can be reopened', async (t) => {
  const pty = await openPtyPair({ t })
  const a = await openSerialPort(pty.a)
  const b = await open(t, pty.b)
  const reason = closeReason(a)
  const payload = Buffer.alloc(4096, 0x5a)
  const atB = receive(b, payload.length)
  a.write(payload)
  await a.close()
  t.equal(await reason, 'closed')
  t.equal(a.closed, true)
  t.same(await atB, payload, 'queued bytes were delivered before closing')
  t.doesNotThrow(() => a.write(Buffer.from('late')), 'writing after close is ignored')
  await a.close() // twice is fine
  const again = await open(t, pty.a)
  const got = receive(b, 2)
  again.write(Buffer.from('ok'))
  t.equal((await got).toString(), 'ok', 'descriptor and lock were released')
})

t.test('unplug: killing socat closes the open port with an "unexpectedly" reason', async (t) => {
  const pty = await openPtyPair({ t })
  const a = await open(t, pty.a)
  const b = await open(t, pty.b)
  const reasonA = closeReason(a)
  const reasonB = closeReason(b) // noticed on its own: no write or read from us is needed
  await pty.close()
  const ra = await reasonA
  t.match(ra, /closed unexpectedly/)
  t.match(ra, pty.a)
  t.match(await reasonB, /closed unexpectedly/)
  t.equal(a.closed, true)
  t.doesNotThrow(() => {
    for (let i = 0; i < 10; i++) a.write(Buffer.from('after unplug'))
  })
  await a.close() // resolves, no throw
})

t.test('unplug while the pinpad is sending: reported, not a 0-byte read spin', async (t) => {
  const pty = await openPtyPair({ t })
  const a = await open(t, pty.a)
  // Another process floods the far end, so a read is under way when the tty hangs up.
  const feeder = spawn('sh', ['-c', `exec cat /dev/zero > ${pty.b}`], { stdio: 'ignore' })
  t.teardown(() => {
    feeder.kill('SIGKILL')
  })
  let bytes = 0
  a.onData((chunk) => (bytes += chunk.length))
  while (bytes < 64 * 1024) await new Promise((r) => setTimeout(r, 10))
  const reason = closeReason(a)
  await pty.close()
  t.match(await reason, /closed unexpectedly/)
})

t.test('writes racing an unplug never throw and end in one close', async (t) => {
  const pty = await openPtyPair({ t })
  const a = await open(t, pty.a)
  const reasons: string[] = []
  a.onClose((r) => reasons.push(r))
  const closing = pty.close()
  const chunk = Buffer.alloc(1024, 0x42)
  const deadline = Date.now() + 10_000 // a hang guard: the port notices the unplug long before
  let thrown: unknown
  while (!a.closed && Date.now() < deadline) {
    try {
      a.write(chunk)
    } catch (err) {
      thrown ??= err
    }
    await new Promise((r) => setTimeout(r, 5))
  }
  t.equal(thrown, undefined, 'write() never threw')
  await closing
  t.equal(a.closed, true)
  await new Promise((r) => setTimeout(r, 50))
  t.equal(reasons.length, 1)
  t.match(reasons[0], /closed unexpectedly/)
})

t.test('a failing write closes the stream with a reason instead of throwing', async (t) => {
  // A pty cannot be made to fail a write on demand, so this one uses serialport's mock binding.
  SerialPortMock.binding.createPort('/dev/ttyMOCK0')
  t.teardown(() => SerialPortMock.binding.reset())
  const mock = new SerialPortMock({ path: '/dev/ttyMOCK0', baudRate: 19200, autoOpen: false })
  await new Promise<void>((resolve, reject) => mock.open((e) => (e ? reject(e) : resolve())))
  mock.port!.write = async () => {
    throw Object.assign(new Error('EIO: i/o error, write'), { code: 'EIO' })
  }
  const s = new SerialByteStream(mock as unknown as SerialPort)
  const reason = closeReason(s)
  t.doesNotThrow(() => s.write(Buffer.from('x')))
  t.match(await reason, /^port \/dev\/ttyMOCK0 closed unexpectedly: write failed: EIO/)
  t.doesNotThrow(() => s.write(Buffer.from('y')))
  await s.close()
  t.equal(mock.isOpen, false, 'the port was released')
})

t.test('opening fails with MPOS_ERR_SERIAL_OPEN', async (t) => {
  await t.rejects(openSerialPort('/dev/ttyACM-does-not-exist'), {
    code: 'MPOS_ERR_SERIAL_OPEN',
    message: /\/dev\/ttyACM-does-not-exist.*No such file or directory/,
  })
  const dir = mkdtempSync(path.join(tmpdir(), 'mpos-serial-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const file = path.join(dir, 'not-a-tty')
  writeFileSync(file, '')
  await t.rejects(openSerialPort(file), { code: 'MPOS_ERR_SERIAL_OPEN', message: new RegExp(file) }, 'not a tty')

  const pty = await openPtyPair({ t })
  await open(t, pty.a)
  await t.rejects(openSerialPort(pty.a), { code: 'MPOS_ERR_SERIAL_OPEN' }, 'already open (locked) elsewhere')
})

t.test('invalid options fail with MPOS_ERR_SERIAL_OPTION', async (t) => {
  await t.rejects(openSerialPort('/dev/ttyACM0', { baudRate: 0 }), { code: 'MPOS_ERR_SERIAL_OPTION' })
  await t.rejects(openSerialPort('/dev/ttyACM0', { baudRate: 96.5 }), { code: 'MPOS_ERR_SERIAL_OPTION' })
  await t.rejects(openSerialPort(''), { code: 'MPOS_ERR_SERIAL_OPTION' })
})
