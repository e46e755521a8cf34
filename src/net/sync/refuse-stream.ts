/**
 * How a sync stream from a non-member ends: one NOT_MEMBER error frame (the
 * wire's own way to say why, so a weft peer reports it by name), then the
 * end of the stream. Nothing of the peer's stream is read, and the frame
 * names neither our group nor anything we hold.
 */
import type { Stream } from '@libp2p/interface'
import { NotMemberError, toWireError } from '../../protocol/errors.js'
import { FramedChannel } from '../../protocol/framing.js'
import { SyncMessage } from '../../protocol/pb/sync.js'
import { deadline } from '../../runtime/deadline.js'
import { streamChannel } from '../stream-channel.js'

/** Sends the error and ends `stream`, within `timeoutMs` (then resets it). Never throws. */
export async function refuseNotMember (stream: Stream, message: string, timeoutMs: number, shutdown?: AbortSignal): Promise<void> {
  const io = new FramedChannel(streamChannel(stream))
  const limit = deadline(timeoutMs, shutdown)
  try {
    await io.writeFrame(SyncMessage.encode({ error: toWireError(new NotMemberError(message)) }), limit.signal)
    await io.closeWrite(limit.signal)
    // A reset now could cut the peer's hello in flight, and with it the error before the peer reads it:
    // let the peer end the stream (a weft node does once it read the error), up to the deadline.
    if (stream.status === 'open') {
      await new Promise<void>(resolve => {
        const done = (): void => { limit.signal.removeEventListener('abort', done); stream.removeEventListener('close', done); resolve() }
        limit.signal.addEventListener('abort', done, { once: true })
        stream.addEventListener('close', done, { once: true })
      })
    }
  } catch {}
  limit.clear()
  if (stream.status === 'open') io.abort(new NotMemberError(message))
}
