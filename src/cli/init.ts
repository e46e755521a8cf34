/**
 * `weft init`: through the running daemon when there is one (it made a group
 * on its first start), otherwise directly on the data dir, under the same lock
 * the daemon takes.
 */
import { hostname } from 'node:os'
import { acquireLock } from '../daemon/lock.js'
import type { Paths } from '../daemon/paths.js'
import { openReplica } from '../store/replica.js'
import { call, DaemonUnavailableError } from './client.js'

export interface InitResult { created: boolean, group: string, device: string }

export async function initGroup (paths: Paths, name?: string): Promise<InitResult> {
  try {
    const s = await call(paths.socket, 'GET', '/v1/status') as { group: string | null, device: string }
    if (s.group !== null) return { created: false, group: s.group, device: s.device }
  } catch (err) {
    if (!(err instanceof DaemonUnavailableError)) throw err
  }
  const release = acquireLock(paths.lockFile, paths.dataDir)
  try {
    const r = openReplica({ dir: paths.dataDir })
    try {
      const existing = r.group
      if (existing !== undefined) return { created: false, group: existing.id, device: r.deviceId }
      const { groupId } = r.createGroup(name ?? hostname())
      return { created: true, group: groupId, device: r.deviceId }
    } finally {
      r.close()
    }
  } finally {
    release()
  }
}
