/** `mpos-bridge cert`: the local CA and the server certificate for `serve --tls`, in the data directory. */
import { defaultDataDir } from '../data-dir.js'
import { CONFIG_ENV } from '../config.js'
import { trustSteps } from '../../tls/trust-steps.js'
import type { Command } from '../command.js'

export const certCommand: Command = {
  name: 'cert',
  summary: 'Create a local CA and a certificate for localhost, 127.0.0.1 and ::1 (for serve --tls), and print how to trust it.',
  config: true,
  options: {
    renew: { type: 'boolean', description: 'Issue a new server certificate with the same CA (browsers keep trusting it); then restart serve or send it SIGHUP' },
    'data-dir': { type: 'string', value: 'DIR', env: 'MPOS_BRIDGE_DATA_DIR', description: `Where the certificates are kept, in tls/ (default ${defaultDataDir()})` },
    config: { type: 'string', value: 'FILE', env: CONFIG_ENV, file: false, description: 'The configuration file (its dataDir is used)' },
    quiet: { type: 'boolean', description: 'Do not print the trust steps' },
  },
  async run(values) {
    const dataDir = (values['data-dir'] as string | undefined) ?? defaultDataDir()
    // Loaded here: the X.509 library is for this command only, not for every start of the CLI.
    const { ensureCertificates, SERVER_NAMES } = await import('../../tls/certs.js')
    const result = await ensureCertificates(dataDir, { renew: values.renew === true })
    const { files } = result
    const lines = [
      result.created.length === 0 ? `Certificates already exist in ${files.dir} (mpos-bridge cert --renew issues a new server certificate).` : `Created in ${files.dir}: ${result.created.map((c) => (c === 'ca' ? 'a local CA' : 'a server certificate')).join(' and ')}.`,
      `  CA:          ${files.caCert} (key ${files.caKey}, mode 0600), expires ${result.caExpires.toISOString()}`,
      `  certificate: ${files.cert} (key ${files.key}, mode 0600), for ${[...SERVER_NAMES.dns, ...SERVER_NAMES.ip].join(', ')}, expires ${result.serverExpires.toISOString()}`,
      '',
    ]
    if (values.renew === true) lines.push('A running bridge serves the new certificate after SIGHUP (systemctl reload-or-restart mpos-bridge) or a restart.', '')
    if (result.created.includes('ca') && values.renew === true) lines.push('The CA was renewed too (it had less than a certificate\'s life left): trust the new one.', '')
    if (!values.quiet) lines.push(trustSteps(files.caCert), '')
    process.stdout.write(lines.join('\n'))
    return 0
  },
}
