import { PinpadStatusErrorBase } from '../errors.js'
import { returnCodeName } from './return-codes.js'

/** The pinpad answered with RSP_STAT ≠ 000 (or ERR for an unknown command); carries the ABECS code (§3.1.1). */
export class PinpadStatusError extends PinpadStatusErrorBase {
  readonly command: string
  readonly status: number
  readonly statusName: string

  constructor(command: string, status: number) {
    const name = returnCodeName(status)
    super(command, String(status).padStart(3, '0'), name)
    this.command = command
    this.status = status
    this.statusName = name
  }
}
