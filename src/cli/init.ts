/**
 * `weft init`: through the running daemon when there is one (it made a group
 * on its first start); otherwise the daemon's entry point does it on the data
 * dir, under the lock the daemon takes.
 */
import type { InitResult, StatusResponse } from '../daemon/api-types.js'
import type { Paths } from '../daemon/paths.js'
import { call, DaemonUnavailableError } from './client.js'
import type { LoadDaemonEntry } from './daemon-entry.js'

export async function initGroup (paths: Paths, name: string | undefined, daemonEntry: LoadDaemonEntry): Promise<InitResult> {
  try {
    const s = await call<StatusResponse>(paths.socket, 'GET', '/v1/status')
    if (s.group !== null) return { created: false, group: s.group, device: s.device }
  } catch (err) {
    if (!(err instanceof DaemonUnavailableError)) throw err
  }
  return await (await daemonEntry()).init(paths, name)
}
