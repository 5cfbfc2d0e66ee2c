/**
 * `mpos-bridge service install --systemd | --windows`: the packaged service definition
 * (packaging/) with this till's user, data directory, configuration file and program paths filled
 * in. Without root (systemd) or with --dry-run it only prints what it would write and run.
 */
import { readFile, writeFile, mkdir } from 'node:fs/promises'
import { userInfo } from 'node:os'
import path from 'node:path'
import { UsageError } from '../../errors.js'
import { CONFIG_ENV } from '../config.js'
import { PACKAGE_ROOT } from '../../package-root.js'
import type { Command } from '../command.js'

const SYSTEMD_TARGET = '/etc/systemd/system/mpos-bridge.service'
const SYSTEMD_DATA_DIR = '/var/lib/mpos-bridge'

/** systemd's command-line quoting: a word with a space or a quote in double quotes. */
const quote = (word: string) => (/[\s"'\\]/.test(word) ? `"${word.replace(/(["\\])/g, '\\$1')}"` : word)

/** Replaces the first line starting with each prefix by the line given. */
function setLines(unit: string, values: Record<string, string>): string {
  let text = unit
  for (const [key, value] of Object.entries(values)) {
    const pattern = new RegExp(`^${key.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}.*$`, 'm')
    if (!pattern.test(text)) throw new Error(`the packaged unit has no ${key} line`)
    text = text.replace(pattern, () => value)
  }
  return text
}

export function systemdUnit(template: string, o: { user: string; dataDir: string; config?: string; node: string; bin: string }): string {
  const exec = [o.node, o.bin, 'serve', ...(o.config ? ['--config', o.config] : [])].map(quote).join(' ')
  return setLines(template, {
    'User=': `User=${o.user}`,
    'Environment=MPOS_BRIDGE_DATA_DIR=': `Environment=${quote(`MPOS_BRIDGE_DATA_DIR=${o.dataDir}`)}`,
    'ExecStart=': `ExecStart=${exec}`,
  })
}

export function winswConfig(template: string, o: { dataDir?: string; config?: string; node: string; bin: string }): string {
  const xml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/"/g, '&quot;')
  let text = template
    .replace(/<executable>[^<]*<\/executable>/, `<executable>${xml(o.node)}</executable>`)
    .replace(/<arguments>[^<]*<\/arguments>/, `<arguments>"${xml(o.bin)}" serve${o.config ? ` --config "${xml(o.config)}"` : ''}</arguments>`)
  if (o.dataDir) text = text.replace(/(<env name="MPOS_BRIDGE_DATA_DIR" value=")[^"]*("\/>)/, `$1${xml(o.dataDir)}$2`)
  return text
}

export const serviceCommand: Command = {
  name: 'service',
  args: 'install',
  summary: 'Install the bridge as a service: a systemd unit (--systemd) or a WinSW configuration (--windows), filled in for this till.',
  options: {
    systemd: { type: 'boolean', description: `Write the systemd unit (default ${SYSTEMD_TARGET})` },
    windows: { type: 'boolean', description: 'Write the WinSW service configuration (mpos-bridge.xml; see README, "Install on a till")' },
    user: { type: 'string', value: 'USER', description: 'systemd: the user the bridge runs as (default: the one who ran sudo, else the current user)' },
    'data-dir': { type: 'string', value: 'DIR', description: `The service's data directory (systemd default ${SYSTEMD_DATA_DIR}; Windows %ProgramData%\\mpos-bridge)` },
    config: { type: 'string', value: 'FILE', description: 'A configuration file for serve --config (default: config.json in the data directory, when it exists)' },
    output: { type: 'string', value: 'FILE', description: 'Where to write it instead of the system location' },
    'dry-run': { type: 'boolean', description: 'Only print what would be written and run' },
  },
  async run(values, positionals) {
    if (positionals[0] !== 'install' || positionals.length !== 1) throw new UsageError('service', 'say: mpos-bridge service install --systemd | --windows')
    if (Boolean(values.systemd) === Boolean(values.windows)) throw new UsageError('service', 'choose one of --systemd and --windows')
    const root = PACKAGE_ROOT
    // The program the package's manifest names (the sources through tsx, or a compiled build).
    const manifest = JSON.parse(await readFile(path.join(root, 'package.json'), 'utf8')) as { bin: Record<string, string> }
    const bin = path.join(root, manifest.bin['mpos-bridge']!)
    const config = values.config ? path.resolve(values.config as string) : undefined
    const dataDir = values['data-dir'] ? path.resolve(values['data-dir'] as string) : undefined
    const out = (s: string) => process.stdout.write(`${s}\n`)

    if (values.windows) {
      const text = winswConfig(await readFile(path.join(root, 'packaging', 'windows', 'mpos-bridge.xml'), 'utf8'), { node: process.execPath, bin, ...(dataDir ? { dataDir } : {}), ...(config ? { config } : {}) })
      const target = (values.output as string | undefined) ?? 'mpos-bridge.xml'
      if (values['dry-run']) return (out(`Would write ${path.resolve(target)}:\n\n${text}`), 0)
      await writeFile(target, text)
      out(`Wrote ${path.resolve(target)}. Next, in an administrator's prompt, beside WinSW-x64.exe renamed to mpos-bridge.exe:\n  mpos-bridge.exe install\n  mpos-bridge.exe start`)
      return 0
    }

    const user = (values.user as string | undefined) ?? process.env.SUDO_USER ?? userInfo().username
    const unit = systemdUnit(await readFile(path.join(root, 'packaging', 'systemd', 'mpos-bridge.service'), 'utf8'), {
      user,
      dataDir: dataDir ?? SYSTEMD_DATA_DIR,
      node: process.execPath,
      bin,
      ...(config ? { config } : {}),
    })
    const target = (values.output as string | undefined) ?? SYSTEMD_TARGET
    const isRoot = process.getuid?.() === 0
    const steps = [
      `install -d -o ${user} -m 0700 ${quote(dataDir ?? SYSTEMD_DATA_DIR)}`,
      'systemctl daemon-reload',
      'systemctl enable --now mpos-bridge',
      'journalctl -u mpos-bridge -f    # its logs',
    ]
    if (values['dry-run'] || (!isRoot && values.output === undefined)) {
      out(`${isRoot || values['dry-run'] ? '' : 'Not root: nothing written. '}Would write ${target}:\n\n${unit}\nthen run (as root):\n${steps.map((s) => `  ${s}`).join('\n')}`)
      return 0
    }
    await mkdir(path.dirname(path.resolve(target)), { recursive: true })
    await writeFile(target, unit, { mode: 0o644 })
    if (user === 'root') process.stderr.write('mpos-bridge service: the unit runs the bridge as root; --user names a less powerful account\n')
    out(`Wrote ${target} (user ${user}, data directory ${dataDir ?? SYSTEMD_DATA_DIR}${config ? `, configuration ${config}` : ''}). Next, as root:\n${steps.map((s) => `  ${s}`).join('\n')}`)
    if (process.env[CONFIG_ENV]) out(`(${CONFIG_ENV} of this shell is not carried into the unit: use --config)`)
    return 0
  },
}
