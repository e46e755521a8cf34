/**
 * Runs one sync session between two stores over an in-memory pipe, the
 * protocol tests' stand-in for a libp2p stream.
 */
import { FramedChannel, type FrameDuplex } from '../../src/protocol/framing.js'
import { runSyncSession, type SessionOptions, type SessionResult } from '../../src/protocol/session.js'
import type { SyncStore } from '../../src/protocol/port.js'
import { duplexPair, type PipeOptions } from './memory-pipe.js'

export interface PairOptions extends PipeOptions {
  initiator?: Partial<SessionOptions>
  responder?: Partial<SessionOptions>
  maxFrameBytes?: number
  /** Rewrites each frame a side writes (0: initiator, 1: responder) before it reaches the pipe: a tampering forwarder. */
  transform?: (frame: Uint8Array, from: 0 | 1) => Uint8Array
}

/** A framed channel whose written frames pass through `transform` first. */
function tampered (io: FrameDuplex, transform: (frame: Uint8Array) => Uint8Array): FrameDuplex {
  return {
    readFrame: async signal => await io.readFrame(signal),
    writeFrame: async (frame, signal) => { await io.writeFrame(transform(frame), signal) },
    closeWrite: async signal => { await io.closeWrite(signal) },
    abort: err => { io.abort(err) },
    get bytesRead () { return io.bytesRead },
    get bytesWritten () { return io.bytesWritten }
  }
}

export async function syncPair (a: SyncStore, b: SyncStore, options: PairOptions = {}): Promise<[SessionResult, SessionResult]> {
  const [pa, pb] = duplexPair(options)
  const framing = options.maxFrameBytes === undefined ? {} : { maxFrameBytes: options.maxFrameBytes }
  const t = options.transform
  const ioA: FrameDuplex = new FramedChannel(pa, framing)
  const ioB: FrameDuplex = new FramedChannel(pb, framing)
  return Promise.all([
    runSyncSession(t === undefined ? ioA : tampered(ioA, f => t(f, 0)), a, { initiator: true, groupId: 'g', expectedDeviceId: b.deviceId, ...options.initiator }),
    runSyncSession(t === undefined ? ioB : tampered(ioB, f => t(f, 1)), b, { initiator: false, groupId: 'g', expectedDeviceId: a.deviceId, ...options.responder })
  ])
}
