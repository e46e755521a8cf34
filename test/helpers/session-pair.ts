/**
 * Runs one sync session between two stores over an in-memory pipe, the
 * protocol tests' stand-in for a libp2p stream.
 */
import { FramedChannel } from '../../src/protocol/framing.js'
import { runSyncSession, type SessionOptions, type SessionResult } from '../../src/protocol/session.js'
import type { SyncStore } from '../../src/protocol/port.js'
import { duplexPair, type PipeOptions } from './memory-pipe.js'

export interface PairOptions extends PipeOptions {
  initiator?: Partial<SessionOptions>
  responder?: Partial<SessionOptions>
  maxFrameBytes?: number
}

export async function syncPair (a: SyncStore, b: SyncStore, options: PairOptions = {}): Promise<[SessionResult, SessionResult]> {
  const [pa, pb] = duplexPair(options)
  const framing = options.maxFrameBytes === undefined ? {} : { maxFrameBytes: options.maxFrameBytes }
  return Promise.all([
    runSyncSession(new FramedChannel(pa, framing), a, { initiator: true, groupId: 'g', expectedDeviceId: b.deviceId, ...options.initiator }),
    runSyncSession(new FramedChannel(pb, framing), b, { initiator: false, groupId: 'g', expectedDeviceId: a.deviceId, ...options.responder })
  ])
}
