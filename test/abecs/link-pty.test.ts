/**
 * The host link layer's behaviour (§2.2.2) through a real pseudo-terminal pair, in real time: socat
 * makes the pair, the serialport binding opens both ends, and killing socat is the unplug. The
 * specification's timings, so no timer that must not fire has less than seconds of margin.
 */
import t from 'tap'
import { openPtyPair } from '../helpers/pty.js'
import { openSerialPort } from '../../src/transport/serial-port.js'
import { linkSuite } from './link.suite.js'

linkSuite(t, 'real', async () => {
  const pty = await openPtyPair({ t })
  const host = await openSerialPort(pty.a)
  const pinpad = await openSerialPort(pty.b)
  return {
    host,
    pinpad,
    // Only signal socat: waiting for its exit here would let the pending exchange reject (the
    // ports hang up at once) before the suite attaches its handler.
    unplug: async () => {
      void pty.close()
    },
    close: async () => {
      await Promise.allSettled([host.close(), pinpad.close()])
      await pty.close()
    },
  }
})
