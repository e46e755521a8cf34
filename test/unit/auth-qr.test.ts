import { describe, expect, it } from 'vitest'
import { createInvite, qrAvailable, renderInviteQr, renderQrMatrix, type QrMatrix } from '../../src/auth/index.js'
import { DeviceKey } from '../../src/oplog/keys.js'

const hasQrCode = await qrAvailable()

function matrix (rows: string[]): QrMatrix {
  return { size: rows.length, get: (r, c) => rows[r]![c] === '#' }
}

describe('terminal QR rendering', () => {
  it('draws two module rows per line with half blocks, margin included', () => {
    const out = renderQrMatrix(matrix(['#.#', '.##', '#..']), { margin: 1, ansi: false })
    // 5 x 5 with the margin: rows (0,1) (2,3) (4,-)
    expect(out.split('\n')).toEqual([
      ' ▄ ▄ ',
      ' ▄▀▀ ',
      '     '
    ])
  })

  it('wraps lines in black-on-white ANSI by default, and can invert plain output', () => {
    const ansi = renderQrMatrix(matrix(['#']), { margin: 0 })
    expect(ansi).toBe('\x1b[30;107m▀\x1b[0m')
    expect(renderQrMatrix(matrix(['#.', '.#']), { margin: 0, ansi: false, invert: true })).toBe('▄▀')
  })

  it.skipIf(!hasQrCode)('renders an invite code with the qrcode package (skipped: qrcode is not installed)', async () => {
    const { code } = createInvite({ group: DeviceKey.generate().publicKey, inviter: DeviceKey.generate().publicKey, addresses: ['/ip4/192.168.1.2/tcp/4001'], now: 0 })
    const out = await renderInviteQr(code, { ansi: false })
    const lines = out.split('\n')
    expect(lines.length).toBeGreaterThan(10)
    expect(new Set(lines.map(l => [...l].length)).size).toBe(1) // square: every line equally wide
    expect(lines.length).toBeLessThanOrEqual(Math.ceil([...lines[0]!].length / 2))
  })

  it.skipIf(hasQrCode)('says how to get QR codes when qrcode is missing', async () => {
    await expect(renderInviteQr('weft1:x')).rejects.toMatchObject({ name: 'QrUnavailableError', code: 'QR_UNAVAILABLE', message: /npm install qrcode/ })
  })
})
