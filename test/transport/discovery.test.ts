import t from 'tap'
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { openPtyPair } from '../helpers/pty.js'
import { ManualClock } from '../helpers/manual-clock.js'
import {
  SerialDiscovery,
  isCandidatePath,
  listFromSysfs,
  type OsPortInfo,
  type SerialDiscoveryOptions,
  type SerialPortEntry,
} from '../../src/transport/discovery.js'

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** A discovery whose events are recorded as "+path" / "-path". */
function discovery(t: { teardown(fn: () => unknown): void }, options: SerialDiscoveryOptions) {
  const d = new SerialDiscovery({ fallback: null, ...options })
  const events: string[] = []
  d.on('added', (e) => events.push(`+${e.path}`))
  d.on('removed', (e) => events.push(`-${e.path}`))
  t.teardown(() => d.stop())
  return { d, events }
}

/** A lister that answers with whatever `current` holds at the time. */
function scripted(initial: OsPortInfo[] = []) {
  const state = { current: initial, calls: 0 }
  const lister = async () => {
    state.calls++
    return state.current
  }
  return { state, lister }
}

function nextEvent(d: SerialDiscovery, name: 'added' | 'removed', p: string, timeoutMs = 3000): Promise<SerialPortEntry> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      d.off(name, on)
      reject(new Error(`no '${name}' for ${p}`))
    }, timeoutMs)
    const on = (e: SerialPortEntry) => {
      if (e.path !== p) return
      clearTimeout(timer)
      d.off(name, on)
      resolve(e)
    }
    d.on(name, on)
  })
}

t.test('candidate paths', async (t) => {
  for (const p of ['/dev/ttyACM0', '/dev/ttyUSB12', '/dev/rfcomm0', 'COM3', '/dev/cu.usbmodem1101', '/dev/cu.usbserial-A5XK3RJT']) {
    t.ok(isCandidatePath(p), p)
  }
  for (const p of ['/dev/ttyS0', '/dev/ttyAMA0', '/dev/tty.usbmodem1101', '/dev/pts/3', '/dev/cu.Bluetooth-Incoming-Port', '']) {
    t.notOk(isCandidatePath(p), p || '(empty)')
  }
})

t.test('added and removed follow the OS listing; the snapshot is sorted and keeps OS details', async (t) => {
  const { state, lister } = scripted()
  const { d, events } = discovery(t, { lister })
  t.same(await d.refresh(), [])

  state.current = [
    { path: '/dev/ttyUSB0' },
    { path: '/dev/ttyACM0', name: 'usb-Gertec_PPC930_8C01-if00', manufacturer: 'Gertec', serialNumber: '8C01', vendorId: '1753', productId: 'c902' },
    { path: '/dev/ttyS0' }, // built-in UART: never a candidate
  ]
  t.same(await d.refresh(), [
    { path: '/dev/ttyACM0', name: 'usb-Gertec_PPC930_8C01-if00', manufacturer: 'Gertec', serialNumber: '8C01', vendorId: '1753', productId: 'c902', source: 'os' },
    { path: '/dev/ttyUSB0', source: 'os' },
  ])
  t.same(events, ['+/dev/ttyACM0', '+/dev/ttyUSB0'])

  state.current = [{ path: '/dev/ttyUSB0' }, { path: '/dev/rfcomm0' }]
  await d.refresh()
  t.same(events.slice(2), ['-/dev/ttyACM0', '+/dev/rfcomm0'])
  t.same(
    d.list().map((e) => e.path),
    ['/dev/rfcomm0', '/dev/ttyUSB0'],
  )
})

t.test('an unchanged listing gives no events and an identical snapshot', async (t) => {
  const ports = [{ path: '/dev/ttyACM1', name: 'pinpad' }, { path: '/dev/ttyACM0' }]
  const { lister } = scripted(ports)
  const { d, events } = discovery(t, { lister })
  const first = await d.refresh()
  for (let i = 0; i < 5; i++) t.same(await d.refresh(), first)
  t.same(events, ['+/dev/ttyACM0', '+/dev/ttyACM1'])
  // Changing a returned copy does not change the discovery's snapshot.
  first[0]!.path = '/dev/changed'
  t.equal(d.list()[0]!.path, '/dev/ttyACM0')
})

t.test('start() polls on its own until stop()', async (t) => {
  // Virtual time, moved by hand: the default 1 s period, checked to the millisecond.
  const clock = new ManualClock()
  const { state, lister } = scripted([{ path: '/dev/ttyACM0' }])
  const { d } = discovery(t, { lister, clock })
  d.start()
  d.start() // a second start does not double the polling
  await clock.settle()
  t.equal(state.calls, 1, 'a poll at once')
  await clock.advance(999)
  t.equal(state.calls, 1)
  await clock.advance(1)
  t.equal(state.calls, 2, 'the next one a second later')
  const added = nextEvent(d, 'added', '/dev/ttyUSB0')
  state.current = [{ path: '/dev/ttyACM0' }, { path: '/dev/ttyUSB0' }]
  await clock.advance(1000)
  t.equal((await added).source, 'os', 'the port plugged in meanwhile is seen by the next poll')
  t.equal(state.calls, 3)
  await d.stop()
  t.equal(clock.pendingTimers, 0, 'stop() clears the next poll')
  await clock.advance(10_000)
  t.equal(state.calls, 3, 'no polls after stop()')
})

t.test('a throwing lister falls back, keeps the bridge alive and warns once', async (t) => {
  for (const kind of ['rejects', 'throws synchronously'] as const) {
    const warnings: string[] = []
    let fail = false
    const lister = (() => {
      if (fail) {
        if (kind === 'throws synchronously') throw new Error('spawn udevadm ENOENT')
        return Promise.reject(new Error('spawn udevadm ENOENT'))
      }
      return Promise.resolve([{ path: '/dev/ttyACM0' }])
    }) as () => Promise<OsPortInfo[]>

    // Without a fallback the last good listing stands: no flapping removed/added.
    const kept = discovery(t, { lister, onWarning: (w) => warnings.push(w) })
    await kept.d.refresh()
    fail = true
    await kept.d.refresh()
    await kept.d.refresh()
    t.same(kept.d.list().map((e) => e.path), ['/dev/ttyACM0'], `${kind}: previous listing kept`)
    t.same(kept.events, ['+/dev/ttyACM0'])
    t.equal(warnings.length, 1, `${kind}: one warning for a repeated failure`)
    t.match(warnings[0], /Listing serial ports failed: spawn udevadm ENOENT/)

    // With a fallback, its answer is used.
    const fallback = async () => [{ path: '/dev/ttyUSB3', name: 'usb-FTDI_FT232R-if00-port0' }]
    const fell = discovery(t, { lister, fallback })
    t.same(await fell.d.refresh(), [{ path: '/dev/ttyUSB3', name: 'usb-FTDI_FT232R-if00-port0', source: 'os' }])
  }
})

t.test('a lister that never answers times out, is not called again while stuck, and stop() is prompt', async (t) => {
  let calls = 0
  const lister = () => {
    calls++
    return new Promise<OsPortInfo[]>(() => {})
  }
  const fallback = async () => [{ path: '/dev/ttyACM0' }]
  const warnings: string[] = []
  // Virtual time, moved by hand: the default 3 s listing timeout and 1 s period.
  const clock = new ManualClock()
  const { d } = discovery(t, { lister, fallback, clock, onWarning: (w) => warnings.push(w) })
  const added = nextEvent(d, 'added', '/dev/ttyACM0')
  d.start()
  await clock.advance(2999)
  t.same(d.list(), [], 'the listing hangs…')
  await clock.advance(1)
  await added
  t.pass('…and the fallback answers when it times out, 3 s after it started')
  await clock.advance(10_000) // ten more polls
  t.equal(calls, 1, 'no pile-up of hanging listings')
  t.same(d.list(), [{ path: '/dev/ttyACM0', source: 'os' }])
  t.match(warnings[0], /no answer within 3000 ms/)
  let stopped = false
  const stopping = d.stop().then(() => (stopped = true))
  await clock.settle()
  t.ok(stopped, 'stop() takes no time: it does not wait for the hung listing')
  await stopping
})

t.test('a hung listing that finally answers is used again', async (t) => {
  let release: (ports: OsPortInfo[]) => void = () => {}
  let calls = 0
  const lister = () => {
    calls++
    if (calls === 1) return new Promise<OsPortInfo[]>((resolve) => (release = resolve))
    return Promise.resolve([{ path: '/dev/ttyUSB0' }])
  }
  const clock = new ManualClock()
  const { d } = discovery(t, { lister, fallback: async () => [], clock })
  const first = d.refresh()
  await clock.advance(3000) // the listing timeout
  t.same(await first, [])
  await d.refresh()
  t.equal(calls, 1)
  release([])
  await clock.settle()
  t.same(await d.refresh(), [{ path: '/dev/ttyUSB0', source: 'os' }])
})

t.test('a throwing event listener does not break discovery', async (t) => {
  const { state, lister } = scripted([{ path: '/dev/ttyACM0' }])
  const warnings: string[] = []
  const { d } = discovery(t, { lister, onWarning: (w) => warnings.push(w) })
  d.on('added', () => {
    throw new Error('listener bug')
  })
  await d.refresh()
  state.current = []
  await d.refresh()
  t.same(d.list(), [])
  t.match(warnings[0], /listener bug/)
})

t.test('a configured pty is listed while it exists and removed when socat goes away', async (t) => {
  const pty = await openPtyPair({ t })
  const missing = '/dev/ttyACM-not-plugged-in'
  const { d, events } = discovery(t, {
    lister: async () => [],
    configuredPaths: [pty.a, missing],
    intervalMs: 20,
  })
  const added = nextEvent(d, 'added', pty.a)
  d.start()
  t.same(await added, { path: pty.a, source: 'configured' })
  t.same(d.list(), [{ path: pty.a, source: 'configured' }], 'the missing path is not listed')
  const removed = nextEvent(d, 'removed', pty.a)
  await pty.close()
  t.same(await removed, { path: pty.a, source: 'configured' })
  t.same(d.list(), [])
  t.same(events, [`+${pty.a}`, `-${pty.a}`])
})

t.test('a configured path the OS also lists appears once, as configured, with the OS details', async (t) => {
  const { d } = discovery(t, {
    lister: async () => [{ path: 'COM9', name: 'USB Serial Device (COM9)' }, { path: 'COM3' }],
    configuredPaths: ['COM9', 'COM9'],
  })
  t.same(await d.refresh(), [
    { path: 'COM3', source: 'os' },
    { path: 'COM9', name: 'USB Serial Device (COM9)', source: 'configured' },
  ])
})

t.test('the sysfs fallback lists real hardware ttys with by-id names and USB details', async (t) => {
  const root = mkdtempSync(path.join(tmpdir(), 'mpos-sysfs-'))
  t.teardown(() => rmSync(root, { recursive: true, force: true }))
  const sys = path.join(root, 'sys')
  const dev = path.join(root, 'dev')
  const usbDevice = path.join(sys, 'devices/pci0000:00/usb1/1-2')
  const iface = path.join(usbDevice, '1-2:1.0')
  mkdirSync(iface, { recursive: true })
  for (const [name, value] of Object.entries({ idVendor: '1753\n', idProduct: 'C902\n', manufacturer: 'Gertec\n', product: 'PPC930\n', serial: '8C01\n' })) {
    writeFileSync(path.join(usbDevice, name), value)
  }
  const ftdiDevice = path.join(sys, 'devices/pci0000:00/usb1/1-3')
  const ftdiPort = path.join(ftdiDevice, '1-3:1.0/ttyUSB0')
  mkdirSync(ftdiPort, { recursive: true })
  writeFileSync(path.join(ftdiDevice, 'idVendor'), '0403\n')
  writeFileSync(path.join(ftdiDevice, 'idProduct'), '6001\n')

  const classTty = path.join(sys, 'class/tty')
  for (const tty of ['ttyACM0', 'ttyUSB0', 'ttyS0', 'ttyUSB9', 'rfcomm0', 'ttyACM7']) mkdirSync(path.join(classTty, tty), { recursive: true })
  symlinkSync(iface, path.join(classTty, 'ttyACM0/device'))
  symlinkSync(ftdiPort, path.join(classTty, 'ttyUSB0/device'))
  symlinkSync(iface, path.join(classTty, 'ttyS0/device')) // hardware, but not a pinpad pattern
  symlinkSync(iface, path.join(classTty, 'ttyACM7/device')) // no /dev node yet
  // ttyUSB9 has no device link: virtual, skipped. rfcomm0 is virtual by nature: kept.

  mkdirSync(path.join(dev, 'serial/by-id'), { recursive: true })
  for (const node of ['ttyACM0', 'ttyUSB0', 'ttyS0', 'ttyUSB9', 'rfcomm0']) writeFileSync(path.join(dev, node), '')
  symlinkSync('../../ttyACM0', path.join(dev, 'serial/by-id/usb-Gertec_PPC930_8C01-if00'))

  const ports = await listFromSysfs({ sysClassTty: classTty, dev })
  t.same(ports, [
    { path: path.join(dev, 'rfcomm0') },
    {
      path: path.join(dev, 'ttyACM0'),
      name: 'usb-Gertec_PPC930_8C01-if00',
      manufacturer: 'Gertec',
      serialNumber: '8C01',
      vendorId: '1753',
      productId: 'c902',
    },
    { path: path.join(dev, 'ttyUSB0'), vendorId: '0403', productId: '6001' },
  ].map((p) => ({ name: undefined, manufacturer: undefined, serialNumber: undefined, vendorId: undefined, productId: undefined, ...p })))

  t.same(await listFromSysfs({ sysClassTty: path.join(root, 'nowhere'), dev }), [], 'no sysfs: empty, no throw')
})

t.test('the default listers on this machine answer without crashing the process', async (t) => {
  const warnings: string[] = []
  const d = new SerialDiscovery({ intervalMs: 20, onWarning: (w) => warnings.push(w) })
  t.teardown(() => d.stop())
  const ports = await d.refresh()
  t.ok(Array.isArray(ports))
  for (const p of ports) t.ok(isCandidatePath(p.path), p.path)
  d.start()
  await sleep(100)
  await d.stop()
  t.pass(`listed ${ports.length} port(s); warnings: ${JSON.stringify(warnings)}`)
})
