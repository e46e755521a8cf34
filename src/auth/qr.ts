/**
 * Invite codes as QR codes in a terminal, so a phone or a laptop camera can
 * read the code instead of someone typing 250 characters.
 *
 * The QR encoding itself comes from the `qrcode` package (its
 * `create(text).modules` matrix), imported lazily: it is optional, and only
 * `weft invite --qr` needs it. Drawing is ours and pure, so it is tested
 * without the package: two module rows per text line with half blocks, and
 * by default ANSI colours forcing black on white, because a QR code drawn in
 * a dark theme's light foreground comes out inverted and many scanners refuse
 * inverted codes.
 */
import { QrUnavailableError } from './errors.js'

/** The part of qrcode's BitMatrix we use. */
export interface QrMatrix {
  readonly size: number
  get(row: number, col: number): number | boolean
}

export interface QrRenderOptions {
  /** Quiet zone around the code, in modules. @default 2 */
  margin?: number
  /** Wrap each line in ANSI colours (black on bright white). @default true */
  ansi?: boolean
  /** Without ANSI: draw light modules instead of dark ones, for light-on-dark terminals. @default false */
  invert?: boolean
  /** QR error correction level. @default 'L' (a terminal is a clean medium; smaller is easier to scan) */
  errorCorrectionLevel?: 'L' | 'M' | 'Q' | 'H'
}

const ANSI_START = '\x1b[30;107m'
const ANSI_END = '\x1b[0m'

/** Draws a module matrix as text, two module rows per line. Pure. */
export function renderQrMatrix (matrix: QrMatrix, options: QrRenderOptions = {}): string {
  const margin = options.margin ?? 2
  const ansi = options.ansi ?? true
  const invert = !ansi && (options.invert ?? false)
  const span = matrix.size + 2 * margin
  const dark = (row: number, col: number): boolean => {
    const r = row - margin
    const c = col - margin
    const on = r >= 0 && c >= 0 && r < matrix.size && c < matrix.size && Boolean(matrix.get(r, c))
    return on !== invert
  }
  const lines: string[] = []
  for (let row = 0; row < span; row += 2) {
    let line = ''
    for (let col = 0; col < span; col++) {
      const top = dark(row, col)
      // An odd span leaves the last line's bottom half outside the code: light, like the margin.
      const bottom = row + 1 < span ? dark(row + 1, col) : invert
      line += top ? (bottom ? '█' : '▀') : (bottom ? '▄' : ' ')
    }
    lines.push(ansi ? ANSI_START + line + ANSI_END : line)
  }
  return lines.join('\n')
}

interface QrCodeModule {
  create(text: string, options?: { errorCorrectionLevel?: string }): { modules: QrMatrix }
}

/** The `qrcode` package, or `QrUnavailableError`. A variable specifier keeps the build from needing its types. */
async function loadQrCode (): Promise<QrCodeModule> {
  const specifier = 'qrcode'
  let mod: { default?: Partial<QrCodeModule> } & Partial<QrCodeModule>
  try {
    mod = await import(specifier)
  } catch (err) {
    throw new QrUnavailableError('cannot draw a QR code: the optional "qrcode" package is not installed (npm install qrcode); the text code works on its own', { cause: err })
  }
  const create = mod.create ?? mod.default?.create
  if (typeof create !== 'function') throw new QrUnavailableError('the installed "qrcode" package has no create() function')
  return { create }
}

/** True when `qrcode` can be loaded. */
export async function qrAvailable (): Promise<boolean> {
  try {
    await loadQrCode()
    return true
  } catch {
    return false
  }
}

/** The invite code as a terminal QR code. Throws `QrUnavailableError` when `qrcode` is not installed. */
export async function renderInviteQr (code: string, options: QrRenderOptions = {}): Promise<string> {
  const qr = await loadQrCode()
  const { modules } = qr.create(code, { errorCorrectionLevel: options.errorCorrectionLevel ?? 'L' })
  return renderQrMatrix(modules, options)
}
