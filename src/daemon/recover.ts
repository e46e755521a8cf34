/**
 * `weft recover`: the safe way on for a device whose store is lost or
 * damaged. A device must never reuse a sequence number: a fresh store with
 * the old key would sign new ops with seq 1, 2, … that its group already
 * holds with other contents, and every peer would refuse it as equivocating.
 *
 * The design: the device comes back as a new identity that the group admits
 * as the successor of the old one.
 * 1. The damaged store and the old key are moved aside, kept, never deleted
 *    (replaced-<time>/); the new store is built beside them (recovering/)
 *    and moved in only when it is complete, so a failed attempt changes
 *    nothing and can simply be run again.
 * 2. A new key joins through an invite code from another device, exactly as
 *    `weft join` does: trust comes from the pairing path the user drives,
 *    never from whichever peer answers first.
 * 3. It pulls all of the group's data from the inviter, the old identity's
 *    ops included, so the device's own old data comes back.
 * 4. When the old key survived, it signs its own revocation (at the later of
 *    now and its newest op anywhere we know of) and a statement naming the
 *    new device as its successor: every member then refuses anything signed
 *    later with the old key, keeps everything it signed before, and shows
 *    who replaced it. Without the old key, `--replaces <id>` revokes it with
 *    the new device's own membership instead.
 * Why not restore the old identity's ops from peers and carry on with the
 * old key? No peer can prove it holds the device's newest op: the device may
 * have signed ops that reached no one before its disk died, so picking up at
 * the highest seq any peer holds could still reuse a number. A new key can
 * never collide.
 *
 * A group of one has nobody to recover from: `--fresh` starts over with a
 * new key and a new group, and never reuses the old key.
 */
import { existsSync, mkdirSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { decodeInviteCode } from '../auth/invite.js'
import { InvalidArgumentError, StoreOpenError, WeftError } from '../errors.js'
import { parseDeviceId, type DeviceKey } from '../oplog/keys.js'
import { loadDeviceKey } from '../store/device-key-file.js'
import { openReplica } from '../store/replica.js'
import { databaseState } from '../store/store-files.js'
import type { RecoverResult } from './api-types.js'
import type { DaemonConfig } from './config.js'
import { Daemon } from './daemon.js'
import type { NetworkFactory } from './ports.js'
import { acquireLock } from './lock.js'
import type { Logger } from '../runtime/log.js'
import { resolvePaths, type Paths } from './paths.js'
import { syncWith } from './routes/peers.js'
import { join as joinGroup } from './routes/trust.js'
import { markReady, moveAside, promoteStaging, READY_FILE, stagingDir } from './recover-files.js'

/** Longest `weft recover` waits to pull the group's data. @default 10 minutes */
export const DEFAULT_RECOVER_SYNC_TIMEOUT_MS = 10 * 60_000
/** Longest `weft recover` waits to join through the invite (dial the inviter, pair). @default 1 minute */
export const DEFAULT_RECOVER_JOIN_TIMEOUT_MS = 60_000
const RETRY_MS = 500

export interface RecoverOptions {
  /** Invite code from `weft invite` on another device of the group. */
  code?: string
  /** No other device: start over with a new key and a new group. */
  fresh?: boolean
  /** Name in the group. @default config.deviceName */
  name?: string
  /** Recover even though the store opens fine (it is retired all the same). */
  force?: boolean
  /** The old device's id, to revoke when its key is lost too. */
  replaces?: string
  /** @default DEFAULT_RECOVER_SYNC_TIMEOUT_MS */
  syncTimeoutMs?: number
  /** Progress lines for the user. */
  progress?: (line: string) => void
}

export type { RecoverResult }

export class RecoverError extends WeftError {
  static override name = 'RecoverError'
  constructor (message: string, options?: ErrorOptions) { super(message, 'RECOVER', options) }
}

interface Assessment { oldKey: DeviceKey | undefined, oldId: string | undefined, problem: string }

/** What is wrong with the store in `dir`; throws when there is nothing to recover. */
function assess (dir: string, force: boolean): Assessment {
  let oldKey: DeviceKey | undefined
  let keyProblem: string | undefined
  try {
    oldKey = loadDeviceKey(join(dir, 'device.key'))
  } catch (err) {
    keyProblem = (err as Error).message
  }
  const db = databaseState(join(dir, 'replica.db'))
  if (oldKey === undefined && keyProblem === undefined && db !== 'present') {
    throw new RecoverError(`there is no store in ${dir} to recover: run weft start for a new device, or weft join to join a group`)
  }
  let problem = keyProblem ?? ''
  if (keyProblem === undefined) {
    try {
      openReplica({ dir }).close()
      if (!force) throw new RecoverError(`the store in ${dir} opens fine and its key matches: there is nothing to recover (weft recover retires this device's identity; add --force to do that anyway)`)
      problem = 'none (--force)'
    } catch (err) {
      if (!(err instanceof StoreOpenError)) throw err
      if (err.reason === 'newer_schema' || err.reason === 'key_exposed') throw err
      problem = err.message
    }
  }
  return { oldKey, oldId: oldKey?.id, problem }
}

async function until<T> (deadline: number, what: string, attempt: () => Promise<T | undefined>): Promise<T> {
  let last: unknown
  while (Date.now() < deadline) {
    try {
      const v = await attempt()
      if (v !== undefined) return v
    } catch (err) {
      last = err
    }
    await new Promise(resolve => setTimeout(resolve, RETRY_MS))
  }
  throw new RecoverError(`${what} did not finish in time${last === undefined ? '' : `: ${(last as Error).message}`}; nothing was changed in the data dir, run weft recover again`)
}

export async function recoverDevice (
  paths: Paths,
  config: DaemonConfig,
  log: Logger,
  networkFactory: NetworkFactory,
  o: RecoverOptions
): Promise<RecoverResult> {
  const say = o.progress ?? (() => {})
  if (o.code !== undefined && o.fresh === true) throw new InvalidArgumentError('give an invite code or --fresh, not both')
  const invite = o.code === undefined ? undefined : decodeInviteCode(o.code)
  if (o.replaces !== undefined) parseDeviceId(o.replaces)
  const dataDir = paths.dataDir
  const release = acquireLock(paths.lockFile, dataDir)
  try {
    const staging = stagingDir(dataDir)
    if (existsSync(join(staging, READY_FILE))) {
      // The last attempt got as far as a complete new store: finish it.
      const kept = moveAside(dataDir) ?? null
      promoteStaging(dataDir)
      const r = openReplica({ dir: dataDir })
      try {
        say(`finished the recovery that was interrupted; old files kept in ${kept ?? '(already moved)'}`)
        return { mode: 'finished', previous: null, device: r.deviceId, group: r.group?.id ?? null, kept, ops: r.stats().ops, previousOps: 0, retired: 'no' }
      } finally { r.close() }
    }
    if (invite === undefined && o.fresh !== true) {
      throw new InvalidArgumentError('weft recover needs an invite code: on another device of this group run weft invite, then here weft recover <code>. ' +
        'If this device was alone in its group, no other device holds its data: weft recover --fresh starts over with a new key and a new group (the old files are kept)')
    }
    // An earlier attempt that did not finish: its new key and data are not the user's, and it never touched the old files.
    rmSync(staging, { recursive: true, force: true })
    const { oldKey, oldId, problem } = assess(dataDir, o.force === true)
    say(`store in ${dataDir}: ${problem}`)
    const previous = oldId ?? o.replaces ?? null

    if (o.fresh === true) {
      const kept = moveAside(dataDir) ?? null
      const r = openReplica({ dir: dataDir })
      try {
        const { groupId } = r.createGroup(o.name ?? config.deviceName)
        say(`old files kept in ${kept}; started over as ${r.deviceId} in a new group ${groupId}`)
        return { mode: 'fresh', previous, device: r.deviceId, group: groupId, kept, ops: r.stats().ops, previousOps: 0, retired: 'no' }
      } finally { r.close() }
    }

    mkdirSync(staging, { mode: 0o700 })
    const stagedPaths = resolvePaths({ dataDir: staging, configFile: paths.configFile }, { ...process.env, XDG_RUNTIME_DIR: '' })
    const daemon = new Daemon(stagedPaths, { ...config, apiPort: null }, log, networkFactory, { createGroup: false })
    const deadline = Date.now() + (o.syncTimeoutMs ?? DEFAULT_RECOVER_SYNC_TIMEOUT_MS)
    let retired: RecoverResult['retired'] = 'no'
    let ops = 0
    let previousOps = 0
    let device: string
    let group: string
    try {
      await daemon.start()
      device = daemon.replica.deviceId
      say(`new identity ${device}; joining through the invite`)
      const joined = await joinGroup(daemon, { code: o.code, name: o.name ?? config.deviceName }, AbortSignal.timeout(DEFAULT_RECOVER_JOIN_TIMEOUT_MS))
      group = joined.group
      say(`joined group ${group}; pulling the group's data from ${joined.inviter}`)
      await until(deadline, 'pulling the group\'s data', async () => {
        const res = await syncWith(daemon, joined.inviter)
        if (res.ok && res.complete) return res
        if (res.error !== null) say(`sync: ${res.error.message}; trying again`)
        return undefined
      })
      const r = daemon.replica
      if (oldKey !== undefined && r.membership?.member(oldKey.publicKey) !== undefined) {
        r.retirePredecessor(oldKey)
        retired = 'self'
      } else if (
        o.replaces !== undefined &&
        r.membership?.member(parseDeviceId(o.replaces)) !== undefined &&
        r.membership.isRevoked(parseDeviceId(o.replaces)) === false
      ) {
        r.revoke(parseDeviceId(o.replaces))
        retired = 'revoked'
      }
      if (retired !== 'no') {
        // The inviter must hold the revocation before we call this done.
        await until(deadline, 'handing the revocation to the inviter', async () => {
          const res = await syncWith(daemon, joined.inviter)
          return res.ok ? res : undefined
        })
        say(retired === 'self' ? `the old identity ${previous} signed its own revocation, naming ${device} as its successor` : `revoked the old identity ${previous}`)
      }
      ops = r.stats().ops
      previousOps = previous === null ? 0 : r.versionVector().get(previous) ?? 0
    } finally {
      await daemon.stop()
    }
    markReady(dataDir)
    const kept = moveAside(dataDir) ?? null
    promoteStaging(dataDir)
    say(`old files kept in ${kept}`)
    return { mode: 'joined', previous, device, group, kept, ops, previousOps, retired }
  } finally {
    release()
  }
}
