/** Command counts kept aside between scrapes still show, in full and in first-use order, when read. */
import t from 'tap'
import { BridgeMetrics } from '../../src/server/metrics.js'

t.test('commandDone counts every answer by the time the counter is read', async (t) => {
  const m = new BridgeMetrics()
  for (let i = 0; i < 3; i++) m.commandDone('status', 'success')
  m.commands.inc({ command: 'initialize', outcome: 'error' })
  m.commandDone('list_devices', 'success')
  m.commandDone('status', 'error')
  const lines = (await m.registry.metrics()).split('\n').filter((l) => l.startsWith('mpos_bridge_commands_total{'))
  t.same(lines, [
    'mpos_bridge_commands_total{command="status",outcome="success"} 3',
    'mpos_bridge_commands_total{command="initialize",outcome="error"} 1',
    'mpos_bridge_commands_total{command="list_devices",outcome="success"} 1',
    'mpos_bridge_commands_total{command="status",outcome="error"} 1',
  ])
  m.commandDone('status', 'success')
  const again = (await m.commands.get()).values.find((v) => v.labels.command === 'status' && v.labels.outcome === 'success')
  t.equal(again?.value, 4, 'and again at the next read')
})
