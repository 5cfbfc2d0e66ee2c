/** `mpos-bridge decrypt-card-hash HASH`: what a sandbox card hash holds, PAN and tracks masked. */
import { decryptCardHash, redactCardHashFields } from '../../acquirer/sandbox/index.js'
import { defaultDataDir } from '../data-dir.js'
import { UsageError } from '../../errors.js'
import type { Command } from '../command.js'

export const decryptCommand: Command = {
  name: 'decrypt-card-hash',
  summary: 'Development tool: print the fields of a card hash made with the sandbox acquirer key (card number masked).',
  args: 'HASH',
  options: {
    'data-dir': { type: 'string', value: 'DIR', env: 'MPOS_BRIDGE_DATA_DIR', description: `Where the sandbox key lives (default ${defaultDataDir()})` },
  },
  async run(values, positionals) {
    const hash = positionals[0]
    if (!hash) throw new UsageError('decrypt-card-hash', 'the card hash is required')
    const fields = await decryptCardHash(hash, (values['data-dir'] as string | undefined) ?? defaultDataDir())
    process.stdout.write(`${JSON.stringify(redactCardHashFields(fields), null, 2)}\n`)
    return 0
  },
}
