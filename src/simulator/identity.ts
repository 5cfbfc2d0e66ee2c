/** Who the virtual pinpad says it is (GIN, GIX). */
export type SpecVersion = '1.08' | '2.12' | '2.20'

export interface PinpadIdentity {
  manufacturer: string
  model: string
  /** Memory size appended to the model in GIN_MODEL/PP_MODEL ("xx;m...m", §3.2.3). */
  memory: string
  serialNumber: string
  partNumber: string
  osVersion: string
  /** "VVV.VV AAMMDD" (§3.2.3 GIN_MANVER). */
  managerVersion: string
  appVersion: string
  kernelVersion: string
  contactless: boolean
  specVersion: SpecVersion
}

/** A MOBI PIN 10-like identity with its own serial number. */
export const DEFAULT_IDENTITY: PinpadIdentity = {
  manufacturer: 'GERTEC',
  model: 'MOBI PIN 10',
  memory: '2MB',
  serialNumber: 'VPP0000000000001',
  partNumber: 'MPOS-BRIDGE-VPP',
  osVersion: 'VPP-OS 1.0',
  managerVersion: '001.00 261127',
  appVersion: '001.00 261127',
  kernelVersion: 'VKRNL-EMV-4.3',
  contactless: true,
  specVersion: '2.12',
}
