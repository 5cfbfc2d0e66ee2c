import { homedir } from 'node:os'
import { join } from 'node:path'

/** The per-user data folder (bridge-facts: "data folder per user"). */
export function defaultDataDir(env: NodeJS.ProcessEnv = process.env, platform = process.platform): string {
  if (platform === 'win32') return join(env.LOCALAPPDATA ?? join(homedir(), 'AppData', 'Local'), 'mpos-bridge')
  if (platform === 'darwin') return join(homedir(), 'Library', 'Application Support', 'mpos-bridge')
  return join(env.XDG_DATA_HOME ?? join(homedir(), '.local', 'share'), 'mpos-bridge')
}
