/** Replies and events as the JSON the original clients expect (websocket-protocol.md). */
import type { Outgoing } from '../../machines/session.machine.js'

export function toWire(message: Outgoing): Record<string, unknown> {
  if (message.kind === 'event') return { ...message.event }
  const base = {
    command: message.command,
    context: message.context,
    ...(message.command_id !== undefined ? { command_id: message.command_id } : {}),
    success: message.success,
  }
  if (message.success) return { ...base, ...(message.response !== undefined ? { response: message.response } : {}) }
  // `error` is the message the original client rejects with; `code` is stable for programs.
  return { ...base, error: message.error.message, code: message.error.code, ...(message.response !== undefined ? { response: message.response } : {}) }
}
