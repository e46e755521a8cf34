import { describe, expect, it } from 'vitest'
import { pathId, resolvePaths } from '../../src/daemon/paths.js'

describe('paths', () => {
  it('names a data dir with FNV-1a 64 of its path (published test vectors)', () => {
    expect(pathId('')).toBe('cbf29ce48422')
    expect(pathId('a')).toBe('af63dc4c8601')
    expect(pathId('foobar')).toBe('85944171f739')
  })

  it('puts each data dir\'s socket in its own directory of the runtime dir, and in <data dir>/run without one', () => {
    const env = { XDG_RUNTIME_DIR: '/run/user/1000', HOME: '/home/u' }
    const a = resolvePaths({ dataDir: '/home/u/a' }, env)
    const b = resolvePaths({ dataDir: '/home/u/b' }, env)
    expect(a.socket).toBe(`/run/user/1000/weft-${pathId('/home/u/a')}/control.sock`)
    expect(a.runtimeDir).not.toBe(b.runtimeDir)
    expect(resolvePaths({ dataDir: '/home/u/a' }, { HOME: '/home/u' }).socket).toBe('/home/u/a/run/control.sock')
    expect(resolvePaths({ dataDir: 'rel/../x' }, env).dataDir).toBe(resolvePaths({ dataDir: 'x' }, env).dataDir)
  })
})
