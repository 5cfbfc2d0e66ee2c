/** Link-layer control bytes (§2.2). */
export const EOT = 0x04
export const ACK = 0x06
/** First data byte of an encrypted "secure" packet (§2.3, §5.2). */
export const DC2 = 0x12
export const DC3 = 0x13
export const NAK = 0x15
export const SYN = 0x16
export const ETB = 0x17
export const CAN = 0x18

export const CONTROL_NAMES: Readonly<Record<number, string>> = {
  [EOT]: 'EOT',
  [ACK]: 'ACK',
  [NAK]: 'NAK',
  [CAN]: 'CAN',
}

/** Largest unescaped PKTDATA for classic commands (§2.2.1). */
export const MAX_CLASSIC_DATA = 1024
/** Largest unescaped PKTDATA at all, only for "Abecs" (TLV) commands (§2.2.1). */
export const MAX_ABECS_DATA = 2049
