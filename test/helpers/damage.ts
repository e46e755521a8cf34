/**
 * Damage done to a replica's files the way crashes and bad disks do it, for
 * the store tests and the fault suite: copies of live files (what a kill -9
 * leaves), a checkpoint interrupted after its first page, a garbage page.
 */
import { closeSync, copyFileSync, existsSync, openSync, readFileSync, statSync, writeFileSync, writeSync } from 'node:fs'
import { join } from 'node:path'

/** Copies replica.db, its WAL and the key as they are on disk now into `to`: what a kill -9 at this moment would leave. */
export function copyLiveFiles (from: string, to: string): string {
  for (const f of ['replica.db', 'replica.db-wal', 'device.key']) {
    if (existsSync(join(from, f))) copyFileSync(join(from, f), join(to, f))
  }
  return to
}

/**
 * Backfills page 1 from the WAL's last committed frame of it into the main
 * file, and nothing else: the state a checkpoint interrupted after its first
 * page leaves (the header's page count is ahead of the file's size, and the
 * WAL still holds every page).
 */
export function interruptCheckpoint (dir: string): { pages: number, size: number } {
  const wal = readFileSync(join(dir, 'replica.db-wal'))
  const pageSize = wal.readUInt32BE(8)
  const frameBytes = 24 + pageSize
  let lastCommit = -1
  let page1: Buffer | undefined
  let candidate: Buffer | undefined
  for (let i = 0; 32 + (i + 1) * frameBytes <= wal.length; i++) {
    const at = 32 + i * frameBytes
    if (wal.readUInt32BE(at) === 1) candidate = wal.subarray(at + 24, at + frameBytes)
    if (wal.readUInt32BE(at + 4) !== 0) { lastCommit = i; page1 = candidate }
  }
  if (lastCommit < 0 || page1 === undefined) throw new Error('no committed frame of page 1 in the WAL')
  const file = join(dir, 'replica.db')
  const fd = openSync(file, 'r+')
  try { writeSync(fd, page1, 0, page1.length, 0) } finally { closeSync(fd) }
  return { pages: page1.readUInt32BE(28), size: statSync(file).size }
}

/** Overwrites one b-tree page in the second half of the file with garbage, keeping everything else; returns its page number. */
export function scribbleMiddlePage (file: string): number {
  const bytes = readFileSync(file)
  const pageSize = bytes.readUInt16BE(16) === 1 ? 65536 : bytes.readUInt16BE(16)
  const pages = bytes.length / pageSize
  for (let p = Math.floor(pages / 2); p < pages; p++) {
    const type = bytes[p * pageSize]
    // 0x02, 0x05: interior b-tree pages; 0x0a, 0x0d: leaves. Overflow and free pages hold no structure to check.
    if (type !== 0x02 && type !== 0x05 && type !== 0x0a && type !== 0x0d) continue
    for (let i = 0; i < pageSize; i++) bytes[p * pageSize + i] = (i * 31 + 7) & 0xff
    writeFileSync(file, bytes)
    return p + 1
  }
  throw new Error('no b-tree page in the second half of the file')
}
