/** The built-in sandbox acquirer: Fastify plugin, key pair, and card-hash opening for the CLI. */
export { sandboxAcquirer, INVALID_CARD_RESPONSE_CODE, type SandboxAcquirerOptions } from './plugin.js'
export { loadSandboxKey, sandboxKeyPath, type SandboxKey } from './keys.js'
export {
  decryptCardHash,
  maskPan,
  openCardHash,
  openCardHashForm,
  parseCardHashForm,
  redactCardHashFields,
  unpadPkcs1Type2,
} from './card-hash.js'
export { cardBrand, luhnValid } from './brand.js'
