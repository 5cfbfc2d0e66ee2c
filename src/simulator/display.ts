/** The virtual pinpad's display, observable by the program hosting the simulator. */
export interface Screen {
  /** Lines as shown (2×16 for DSP/CLO/RMC; free lines for DEX/CLX). */
  lines: string[]
  /** Which command or event put it there. */
  source: string
}

export class Display {
  #screen: Screen = { lines: [], source: 'power-on' }
  readonly #listeners = new Set<(s: Screen) => void>()

  get screen(): Screen {
    return { lines: [...this.#screen.lines], source: this.#screen.source }
  }

  get text(): string {
    return this.#screen.lines.join('\n')
  }

  onChange(listener: (s: Screen) => void): () => void {
    this.#listeners.add(listener)
    return () => this.#listeners.delete(listener)
  }

  /** A 32-character 2×16 message (DSP_MSG, CLO_MSG, RMC_MSG, NTM). */
  show2x16(message: string, source: string): void {
    // §6.5.5: control characters count as spaces; short messages are padded.
    const text = message.replace(/[\x00-\x1f]/g, ' ').padEnd(32).slice(0, 32)
    this.#set([text.slice(0, 16).trimEnd(), text.slice(16).trimEnd()], source)
  }

  /** Free text where CR (or any control character, §6.5.4) breaks lines (DEX_MSG, SPE_DSPMSG). */
  showFree(message: string, source: string): void {
    this.#set(message.split(/[\x00-\x1f]/), source)
  }

  clear(source: string): void {
    this.#set([], source)
  }

  #set(lines: string[], source: string): void {
    this.#screen = { lines, source }
    for (const l of this.#listeners) l(this.screen)
  }
}
