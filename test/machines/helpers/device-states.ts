/**
 * Device machine state values by their state's name: the payment's steps are nested
 * (`connected.payment.cardholder.awaitingCard`), tests name them by the step.
 */
import type { StateValue } from 'xstate'
import { deviceMachine } from '../../../machines/device.machine.js'

interface Node {
  key: string
  states: Record<string, Node>
}

function find(node: Node, key: string, path: string[]): string[] | undefined {
  for (const [k, child] of Object.entries(node.states)) {
    if (k === key) return [...path, k]
    const found = find(child, key, [...path, k])
    if (found) return found
  }
  return undefined
}

/** `at('awaitingCard')` → `{ connected: { payment: { cardholder: 'awaitingCard' } } }`. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- accepted wherever the machine's typed values are
export function at(key: string): any {
  const path = find(deviceMachine.root as unknown as Node, key, [])
  if (!path) throw new Error(`the device machine has no state ${key}`)
  return path.reduceRight<StateValue>((value, k) => ({ [k]: value }), path.pop()!)
}
