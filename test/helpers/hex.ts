/** `hex('16 4F 50')` → bytes; spaces and line breaks are ignored. */
export const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex')
export const ascii = (s: string): Buffer => Buffer.from(s, 'latin1')
export const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex').toUpperCase().replace(/(..)(?!$)/g, '$1 ')
