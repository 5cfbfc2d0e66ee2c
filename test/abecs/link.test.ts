import t from 'tap'
import { memoryPair } from '../../src/transport/byte-stream.js'
import { linkSuite } from './link.suite.js'

linkSuite(t, async () => {
  const [host, pinpad] = memoryPair()
  return {
    host,
    pinpad,
    unplug: async () => host.shutdown('unplugged'),
    close: async () => {
      await host.close()
    },
  }
})
