/**
 * `engines` is true to the dependencies: every installed package (the
 * lockfile records each one's `engines.node`) accepts the oldest Node that
 * package.json's `engines` allows, so `npm install` on that Node warns
 * nothing (EBADENGINE). Two of libp2p's dependencies declare Node 22 in
 * their newest majors; package.json's `overrides` pin the previous majors,
 * whose API is the one libp2p uses (nanoid's `nanoid()`, p-retry's
 * `pRetry(fn, { retries, factor, minTimeout, signal })`).
 */
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'

const ROOT = join(import.meta.dirname, '../..')
const semver = createRequire(import.meta.url)('semver') as {
  satisfies: (version: string, range: string) => boolean
  minVersion: (range: string) => { version: string } | null
}

interface LockEntry { engines?: { node?: string } | string[], version?: string }

describe('engines', () => {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { engines: { node: string } }
  const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, LockEntry> }
  const oldest = semver.minVersion(pkg.engines.node)?.version

  it('names a lowest Node version, and this Node meets it', () => {
    expect(oldest).toMatch(/^\d+\.\d+\.\d+$/)
    expect(semver.satisfies(process.versions.node, pkg.engines.node)).toBe(true)
  })

  it('every installed package accepts the oldest Node that package.json allows', () => {
    const refusing = Object.entries(lock.packages)
      .filter(([path, entry]) => path !== '' && !Array.isArray(entry.engines) && entry.engines?.node !== undefined)
      .filter(([, entry]) => !semver.satisfies(oldest!, (entry.engines as { node: string }).node))
      .map(([path, entry]) => `${path}@${entry.version} wants node ${(entry.engines as { node: string }).node}`)
    expect(refusing).toEqual([])
  })
})
