/** Fitting free text on the pinpad: DSP takes exactly 2 lines of 16 (§3.3.5), DEX up to 160 characters (§3.3.4). */

/** Wraps words into two 16-column lines, centred, as DSP_MSG (32 characters). */
export function toDspMessage(text: string): string {
  const words = text.replace(/\s+/g, ' ').trim().split(' ')
  const lines: string[] = ['']
  for (const word of words) {
    const line = lines[lines.length - 1]!
    if (!line.length) lines[lines.length - 1] = word.slice(0, 16)
    else if (line.length + 1 + word.length <= 16) lines[lines.length - 1] = `${line} ${word}`
    else lines.push(word.slice(0, 16))
  }
  const [a = '', b = ''] = lines
  const centre = (s: string) => s.padStart(Math.floor((16 + s.length) / 2)).padEnd(16)
  return centre(a) + centre(b)
}

/** Whether DSP shows the text whole (two lines of 16, no line breaks needed). */
export function fitsDsp(text: string): boolean {
  if (/[\r\n]/.test(text)) return false
  return toDspMessage(text).replace(/ +/g, ' ').trim() === text.replace(/\s+/g, ' ').trim()
}

/** DEX_MSG: line breaks as CR (0Dh), at most 160 characters. */
export function toDexMessage(text: string): string {
  return text.replace(/\r?\n/g, '\r').slice(0, 160)
}
