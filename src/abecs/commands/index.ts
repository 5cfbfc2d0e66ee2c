/** Every command the bridge speaks, by CMD_ID. */
import { CLO, CLX, GIN, GIX } from './control.js'
import { DWK, OPN } from './session.js'
import { EBX, ENB, GDU } from './crypto.js'
import { GCD, MNU } from './prompts.js'
import { CHP } from './chip.js'
import { GEN } from './generic.js'
import { CEX, CKE, DEX, DSP, GKY, GPN, GTK, RMC } from './basic.js'
import { GTS, TLE, TLI, TLR } from './tables.js'
import { CNG, FNC, GCR, GOC } from './card-classic.js'
import { FCX, GCX, GED, GOX } from './card-abecs.js'
import type { CommandSpec } from './spec.js'

export const COMMANDS = {
  OPN,
  DWK,
  CLO,
  CLX,
  GIN,
  GIX,
  DSP,
  DEX,
  GKY,
  CKE,
  CEX,
  GPN,
  GTK,
  RMC,
  EBX,
  ENB,
  GDU,
  GCD,
  MNU,
  CHP,
  GEN,
  GTS,
  TLI,
  TLR,
  TLE,
  GCR,
  CNG,
  GOC,
  FNC,
  GCX,
  GED,
  GOX,
  FCX,
} as const

export type SpokenCommand = keyof typeof COMMANDS

export function commandSpec(id: string): CommandSpec<any, any> | undefined {
  return (COMMANDS as Record<string, CommandSpec<any, any>>)[id]
}

export * from './control.js'
export * from './session.js'
export * from './crypto.js'
export * from './prompts.js'
export * from './chip.js'
export * from './generic.js'
export * from './basic.js'
export * from './tables.js'
export * from './card-classic.js'
export * from './card-abecs.js'
export type { CommandSpec, RequestOf, ResponseOf } from './spec.js'
export { COMMAND_INFO, commandInfo, isBlocking, type CommandId, type CommandInfo } from './info.js'
