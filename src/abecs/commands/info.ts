/**
 * What the link layer needs to know of each command (§3.2–3.8 headers, §2.2.2): whether it
 * blocks (no response deadline, may send NTM, may be cancelled with CAN) and whether it is an
 * "Abecs" (TLV) command (packets up to 2049 bytes; refused by 1.x pinpads).
 */
export interface CommandInfo {
  readonly name: string
  /** `ctls-reread`: FCX blocks only when a contactless card must be presented again (§3.7.4). */
  readonly blocking: boolean | 'ctls-reread'
  readonly tlv: boolean
  readonly obsolete: boolean
}

const c = (name: string, blocking: CommandInfo['blocking'], tlv: boolean, obsolete: boolean): CommandInfo => ({
  name,
  blocking,
  tlv,
  obsolete,
})

export const COMMAND_INFO = {
  // §3.2 control
  // The classic form; the secure form (§3.2.2) is not obsolete.
  OPN: c('Open Pinpad', false, false, true),
  GIN: c('Get Information', false, false, true),
  GIX: c('Get Information - Extended', false, true, false),
  DWK: c('Define WKPAN', false, false, true),
  CLO: c('Close Pinpad', false, false, true),
  CLX: c('Close Pinpad - Extended', false, true, false),
  // §3.3 basic
  CEX: c('Check Event - Extended', true, true, false),
  CHP: c('Chip Direct Access', true, false, false),
  CKE: c('Check Event', true, false, true),
  DEX: c('Display Message - Extended', false, false, false),
  DSP: c('Display Message', false, false, false),
  EBX: c('Encrypt Buffer - Extended', false, true, false),
  ENB: c('Encrypt Buffer', false, false, true),
  GCD: c('Get Clear Data', true, true, false),
  GDU: c('Get DUKPT Serial Number', false, false, true),
  GKY: c('Get Key', true, false, true),
  GPN: c('Get Encrypted PIN', true, false, false),
  GTK: c('Get Tracks', false, true, false),
  MNU: c('Prompt Menu', true, true, false),
  RMC: c('Remove Card', true, false, false),
  // §3.5 EMV tables
  GTS: c('Get Table Version', false, false, true),
  TLI: c('Table Load - Initialization', false, false, false),
  TLR: c('Table Load - Record', false, false, false),
  TLE: c('Table Load - End', false, false, false),
  // §3.6 card processing (classic)
  GCR: c('Get Card', true, false, true),
  CNG: c('Change EMV Parameter', false, false, true),
  GOC: c('Go On Chip Processing', true, false, true),
  FNC: c('Finish Chip Processing', false, false, true),
  // §3.7 card processing (Abecs)
  GCX: c('Get Card - Extended', true, true, false),
  GED: c('Get EMV Data', false, true, false),
  GOX: c('Go On Chip Processing - Extended', true, true, false),
  FCX: c('Finish Chip Processing - Extended', 'ctls-reread', true, false),
  // §3.8 generic (acquirers' legacy commands; removed in 2.20): only GEN/04/03 waits for the cardholder.
  GEN: c('Generic', false, false, true),
} as const satisfies Record<string, CommandInfo>

export type CommandId = keyof typeof COMMAND_INFO

export function commandInfo(id: string): CommandInfo | undefined {
  return (COMMAND_INFO as Record<string, CommandInfo>)[id]
}

/** Whether the host must wait without a deadline (§2.2.2 "comandos blocantes"). */
export function isBlocking(id: string, contactlessReread = false): boolean {
  const info = commandInfo(id)
  if (!info) return false
  return info.blocking === 'ctls-reread' ? contactlessReread : info.blocking
}
