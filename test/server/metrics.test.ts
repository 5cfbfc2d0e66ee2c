/** Command counts kept aside between scrapes (and before prom-client has loaded) still show, in full and in first-use order, when read. */
import t from 'tap'
import { BridgeMetrics } from '../../src/server/metrics.js'

t.test('commandDone counts every answer by the time the counter is read', async (t) => {
  const m = new BridgeMetrics()
  for (let i = 0; i < 3; i++) m.commandDone('status', 'success')
  m.commands.inc({ command: 'initialize', outcome: 'error' })
  m.commandDone('list_devices', 'success')
  m.commandDone('status', 'error')
  const read = async () => (await (await m.registry()).metrics()).split('\n').filter((l) => l.startsWith('mpos_bridge_commands_total{'))
  const lines = await read()
  t.same(lines, [
    'mpos_bridge_commands_total{command="status",outcome="success"} 3',
    'mpos_bridge_commands_total{command="initialize",outcome="error"} 1',
    'mpos_bridge_commands_total{command="list_devices",outcome="success"} 1',
    'mpos_bridge_commands_total{command="status",outcome="error"} 1',
  ])
  m.commandDone('status', 'success')
  t.ok((await read()).includes('mpos_bridge_commands_total{command="status",outcome="success"} 4'), 'and again at the next read')
})
