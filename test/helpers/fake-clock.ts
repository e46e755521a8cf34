/** A wall clock that only moves when the test says so (for `wallClock` options and the pure HLC). */
export class FakeClock {
  ms: number
  constructor (ms = 1_700_000_000_000) { this.ms = ms }
  readonly now = (): number => this.ms
  advance (by = 1): number { this.ms += by; return this.ms }
  set (ms: number): void { this.ms = ms }
}
