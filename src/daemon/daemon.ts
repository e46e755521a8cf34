/**
 * The daemon: the composition root, the only place that knows every part.
 * It takes the data-dir lock, opens the replica, starts the network node,
 * serves the control API (routes/), runs the housekeeping, and stops all of
 * it in reverse order.
 */
import { WeftError } from '../errors.js'
import type { DeviceKey } from '../oplog/keys.js'
import { loadStoreDeviceKey } from '../store/device-key-file.js'
import { openReplica, type Replica } from '../store/replica.js'
import { securePermissions } from '../store/store-files.js'
import type { DaemonConfig } from './config.js'
import { ControlApi, Router } from './control-api.js'
import { Housekeeping, HOUSEKEEPING_INTERVAL_MS } from './housekeeping.js'
import { acquireLock } from './lock.js'
import type { Logger } from '../runtime/log.js'
import type { Paths } from './paths.js'
import type { Network, NetworkFactory } from './ports.js'
import { checkNoPendingRecovery } from './recover-files.js'
import type { DaemonContext } from './routes/context.js'
import { controlApiRoutes } from './routes/index.js'
import { QueryRoutes } from './routes/query.js'

export { HOUSEKEEPING_INTERVAL_MS }

export interface DaemonOptions {
  /** On a first start, make a group with this device as its only member (`weft recover` joins one instead). @default true */
  createGroup?: boolean
}

export class Daemon implements DaemonContext {
  readonly paths: Paths
  readonly config: DaemonConfig
  readonly log: Logger
  readonly startedAt = Date.now()
  #release: (() => void) | undefined
  #replica: Replica | undefined
  #network: Network | undefined
  #api: ControlApi | undefined
  #queries: QueryRoutes | undefined
  #stopping: Promise<void> | undefined
  readonly #networkFactory: NetworkFactory | undefined
  #deviceKey: DeviceKey | undefined
  readonly #options: DaemonOptions
  #housekeeping: NodeJS.Timeout | undefined

  constructor (paths: Paths, config: DaemonConfig, log: Logger, networkFactory?: NetworkFactory, options: DaemonOptions = {}) {
    this.paths = paths
    this.config = config
    this.log = log
    this.#networkFactory = networkFactory
    this.#options = options
  }

  get replica (): Replica {
    if (this.#replica === undefined) throw new WeftError('the replica is not open', 'NOT_READY')
    return this.#replica
  }

  get network (): Network | undefined { return this.#network }

  async start (): Promise<void> {
    this.#release = acquireLock(this.paths.lockFile, this.paths.dataDir)
    try {
      // A data dir made by hand (--data-dir) or restored from a backup may be open to other users: captured data is theirs to read.
      for (const fix of securePermissions(this.paths.dataDir)) {
        this.log('warn', 'narrowed the permissions of the data dir (it was readable by other local users)', { path: fix.path, from: fix.from.toString(8), to: fix.to.toString(8) })
      }
      checkNoPendingRecovery(this.paths.dataDir)
      // The device key is loaded once, here, and handed to the store and the node.
      const deviceKey = loadStoreDeviceKey(this.paths.dataDir)
      this.#replica = openReplica({ dir: this.paths.dataDir, deviceKey, maxDriftMs: this.config.maxDriftMs, maxValueBytes: this.config.maxValueBytes })
      this.#deviceKey = deviceKey.key
      if (this.#replica.group === undefined && this.#options.createGroup !== false) {
        // A first start makes a group of one device, so `weft invite` works at once.
        const { groupId } = this.#replica.createGroup(this.config.deviceName)
        this.log('info', 'created a new sync group with this device as its first member', { group: groupId })
      }
      const queries = this.#queries = new QueryRoutes(this.#replica, this.log)
      if (this.#networkFactory !== undefined) this.#network = await this.#networkFactory(this.#replica, this.config, this.log, deviceKey.key)
      const router = new Router(controlApiRoutes(this, queries))
      this.#api = new ControlApi({
        socket: this.paths.socket,
        runtimeDir: this.paths.runtimeDir,
        tokenFile: this.paths.tokenFile,
        apiPort: this.config.apiPort,
        handle: async req => await router.handle(req),
        log: (level, msg) => this.log(level, msg)
      })
      await this.#api.start()
      const housekeeping = new Housekeeping(this)
      housekeeping.tick()
      this.#housekeeping = setInterval(() => housekeeping.tick(), HOUSEKEEPING_INTERVAL_MS)
      this.#housekeeping.unref()
    } catch (err) {
      await this.stop()
      throw err
    }
  }

  /** Stop accepting work, finish the current transaction (better-sqlite3 runs them synchronously), stop libp2p, close the database. */
  async stop (): Promise<void> {
    this.#stopping ??= (async () => {
      clearInterval(this.#housekeeping)
      await this.#api?.stop().catch(err => this.log('warn', `stopping the control API: ${String(err)}`))
      await this.#queries?.close().catch(err => this.log('warn', `stopping the query process: ${String(err)}`))
      await this.#network?.stop().catch(err => this.log('warn', `stopping the network: ${String(err)}`))
      this.#replica?.close()
      this.#release?.()
    })()
    await this.#stopping
  }

  /** Stops the network node and starts it again, dialing `extraPeers` first (after a join: the group, topic and authorization changed). */
  async restartNetwork (extraPeers: string[]): Promise<void> {
    if (this.#networkFactory === undefined) return
    await this.#network?.stop().catch(err => this.log('warn', `stopping the network: ${String(err)}`))
    this.#network = undefined
    this.#network = await this.#networkFactory(this.replica, this.config, this.log, this.#deviceKey!, extraPeers)
  }
}
