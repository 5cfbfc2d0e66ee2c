/**
 * The host link layer's behaviour (§2.2.2) over the in-memory pair, in virtual time (a ManualClock:
 * the specification's 2 s and 10 s waits cost nothing and are checked to the millisecond).
 */
import t from 'tap'
import { memoryPair } from '../../src/transport/byte-stream.js'
import { linkSuite } from './link.suite.js'

linkSuite(t, 'virtual', async (clock) => {
  const [host, pinpad] = memoryPair('host', 'pinpad', clock)
  return {
    host,
    pinpad,
    unplug: async () => host.shutdown('unplugged'),
    close: async () => {
      await host.close()
    },
  }
})
