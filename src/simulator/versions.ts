/**
 * Which commands a pinpad of each specification version knows. §3.1.3: the "Abecs" (TLV) commands
 * are the ones BibComp (1.x) does not have, so a 1.x pinpad answers them ERR010; the classic ones
 * (OPN, GIN, DWK, CLO, DSP, DEX, GKY, CKE, ENB, GDU, GPN, RMC, CHP, GEN, GTS, TLI/TLR/TLE, GCR,
 * GOC, FNC) it does know. Spec 2.20 dropped GEN (§3.8 is gone).
 */
import { commandInfo } from '../abecs/commands/index.js'
import type { SpecVersion } from './identity.js'

export function commandAvailable(id: string, version: SpecVersion): boolean {
  const info = commandInfo(id)
  if (!info) return false
  if (version === '1.08') return !info.tlv
  // 2.20 removed every GEN command (its history, item 71).
  if (version === '2.20') return id !== 'GEN'
  return true
}
