/**
 * The bridge runtime with its machine side made at construction (tests, scripts): the same
 * class as src/bridge/runtime-base.ts, given src/bridge/runtime-core.ts loaded with this module.
 * The server loads the machine side itself (at start, or on the first connection with `loadOnFirstOpen`).
 */
import * as core from './runtime-core.js'
import { RuntimeBase, type RuntimeOptions } from './runtime-base.js'

export type { InspectRecord, RuntimeOptions, SessionHandle } from './runtime-base.js'

export class BridgeRuntime extends RuntimeBase {
  constructor(options: RuntimeOptions) {
    super(options, core)
  }
}
