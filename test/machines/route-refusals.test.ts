/**
 * The bridge machine refuses some requests itself, before any context sees them (too many
 * contexts). A journaled one (a money command with a command_id) is handed to `recordAnswer` as
 * well, like a context's answer: the journal must learn the outcome even when the connection that
 * asked is gone and the refusal reaches nobody.
 */
import t from 'tap'
import { createActor, fromCallback, type AnyActorRef } from 'xstate'
import { bridgeMachine, MAX_CONTEXTS_PER_CONNECTION } from '../../machines/bridge.machine.js'
import type { Envelope, Reply, Request } from '../../machines/protocol.js'
import type { SessionRef } from '../../machines/refs.js'

function rig() {
  const recorded: Array<{ envelope: Envelope; reply: Reply }> = []
  const replies: Reply[] = []
  const bridge = createActor(bridgeMachine.provide({ actions: { recordAnswer: (_, answer) => void recorded.push(answer) } })).start()
  // The asking session: it keeps what it is told (or, stopped, is told nothing).
  const session = createActor(fromCallback(({ receive }) => receive((e: { type: string; reply?: Reply }) => e.reply && replies.push(e.reply)))).start() as unknown as AnyActorRef
  let seq = 0
  const route = (context: string, request: Request, commandId?: string) =>
    bridge.send({ type: 'ROUTE', sessionId: 's1', replyTo: session as SessionRef, envelope: { id: String(++seq), context, request, ...(commandId !== undefined ? { commandId } : {}) } })
  return { bridge, session, route, recorded, replies }
}

const initialize: Request = { command: 'initialize', encryption_key: 'ek_test_route_refusals_0123456789', device_id: 1 }

t.test('a journaled command refused by the bridge is recorded, also when its session is gone', async (t) => {
  const r = rig()
  t.teardown(() => r.bridge.stop())
  for (let i = 0; i < MAX_CONTEXTS_PER_CONNECTION; i++) r.route(`till-${i}`, { command: 'status' })
  t.equal(Object.keys(r.bridge.getSnapshot().context.contexts).length, MAX_CONTEXTS_PER_CONNECTION)

  r.route('one-too-many', initialize, 'init-9')
  t.match(r.replies.at(-1), { command: 'initialize', context: 'one-too-many', success: false, error: { code: 'MPOS_ERR_TOO_MANY_CONTEXTS' } }, 'the session is told')
  t.match(r.recorded, [{ envelope: { commandId: 'init-9' }, reply: { success: false, error: { code: 'MPOS_ERR_TOO_MANY_CONTEXTS' } } }], 'and the journal')

  r.session.stop()
  const told = r.replies.length
  r.route('one-too-many', { command: 'process_payment', amount: 1000 }, 'pay-9')
  t.equal(r.replies.length, told, 'a stopped session is told nothing')
  t.match(r.recorded.at(-1), { envelope: { commandId: 'pay-9', context: 'one-too-many' }, reply: { command: 'process_payment', success: false } }, 'the journal still is')
})

t.test('what the journal does not keep is not recorded: no command_id, or not a journaled command', async (t) => {
  const r = rig()
  t.teardown(() => r.bridge.stop())
  for (let i = 0; i < MAX_CONTEXTS_PER_CONNECTION; i++) r.route(`till-${i}`, { command: 'status' })
  r.route('x', initialize)
  r.route('y', { command: 'display_message', message: 'hi' }, 'dm-1')
  t.equal(r.replies.filter((reply) => !reply.success).length, 2, 'both refused')
  t.same(r.recorded, [], 'neither recorded')
})
