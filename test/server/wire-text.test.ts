/** replyText: the text of a query's answer is JSON.stringify(toWire(reply)), byte for byte. */
import t from 'tap'
import fc from 'fast-check'
import { replyText, toWire } from '../../src/server/wire.js'

t.test('replyText is the same bytes as JSON.stringify(toWire(reply))', async (t) => {
  fc.assert(
    fc.property(
      fc.constantFrom('status' as const, 'list_devices' as const),
      fc.string({ minLength: 1, maxLength: 64, unit: 'binary' }),
      fc.option(fc.oneof(fc.string({ maxLength: 128, unit: 'binary' }), fc.integer()), { nil: undefined }),
      fc.oneof(fc.dictionary(fc.string(), fc.jsonValue({ maxDepth: 3 })), fc.array(fc.jsonValue({ maxDepth: 3 }))),
      (command, context, commandId, response) => {
        const wire = toWire({ kind: 'reply', id: '', command, context, success: true, response, ...(commandId !== undefined ? { command_id: commandId } : {}) })
        // Twice: the second time the response's text comes from the cache.
        return replyText(command, context, commandId, response) === JSON.stringify(wire) && replyText(command, context, commandId, response) === JSON.stringify(wire)
      },
    ),
    { numRuns: 2000 },
  )
})
