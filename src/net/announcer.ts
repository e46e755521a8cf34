/**
 * Live propagation: local writes announced on a gossipsub topic per group.
 *
 * Only members see an announcement: gossipsub runs behind the member gate
 * (member-gate.ts), so its mesh, fanout, flood-publish set and gossip hold
 * members only, and the topic name is a hash of the group id (a stranger
 * that sees it learns nothing of the group).
 *
 * An announcement carries the writer's new ops (when they are small) and its
 * version vector. A receiver applies the ops that extend its prefix; when the
 * vector shows it is still behind (it missed an announcement, joined late, or
 * the ops were too big to inline), it asks the sync service for a session
 * with the peer that forwarded the message, which is connected by definition,
 * unlike the writer, which may be two hops away.
 *
 * Writes are gathered for a few milliseconds and sent as one message, so a
 * burst of small transactions costs one publish. The pending list is bounded:
 * past the inline limit the ops are dropped and only the vector goes out
 * (receivers then pull), so a bulk import never piles up here.
 *
 * Gossipsub signs every message with the sender's libp2p key, which is the
 * device key, so an announcement whose device id is not its signer is
 * rejected (and the forwarder's score pays for it). An announcement carries
 * the writer's sync protocol and op format versions, as a sync Hello does: a
 * node with other versions applies nothing from it and reports the mismatch
 * for that peer. Ops that arrive ahead of what we hold (we missed earlier
 * ones) are not applied, so the store does not refuse them as a `gap`: they
 * are counted as deferred and pulled by a session.
 */
import { createHash } from 'node:crypto'
import type { Message } from '@libp2p/gossipsub'
import type { Logger, PeerId, TypedEventTarget } from '@libp2p/interface'
import { OP_FORMAT_VERSION, type EncodedOp } from '../oplog/op.js'
import { parseDeviceId } from '../oplog/keys.js'
import { SYNC_WIRE_VERSION } from '../protocol/constants.js'
import { splitAhead } from '../protocol/op-header.js'
import { encodedOpsBytes, packOps, unpackOps, type PackedOps } from '../protocol/ops-codec.js'
import { Announce, Compression } from '../protocol/pb/sync.js'
import type { SyncStore, VersionVector } from '../protocol/port.js'
import { isAhead, vectorFromWire, vectorToWire } from '../protocol/vector.js'
import {
  ANNOUNCE_TOPIC_DOMAIN, ANNOUNCE_TOPIC_PREFIX, ANNOUNCE_TOPIC_TAG_BYTES, DEFAULT_ANNOUNCE_DELAY_MS, DEFAULT_ANNOUNCE_MAX_INFLATED_BYTES,
  DEFAULT_ANNOUNCE_MAX_OPS_BYTES
} from './constants.js'

/** The parts of gossipsub the announcer uses. */
export interface AnnouncePubSub extends TypedEventTarget<{ 'gossipsub:message': CustomEvent<{ propagationSource: PeerId, msgId: string, msg: Message }> }> {
  subscribe(topic: string): void
  unsubscribe(topic: string): void
  publish(topic: string, data?: Uint8Array): Promise<{ recipients: PeerId[] }>
  topicValidators: Map<string, (peer: PeerId, message: Message) => 'accept' | 'ignore' | 'reject' | Promise<'accept' | 'ignore' | 'reject'>>
}

export interface AnnouncerInit {
  pubsub: AnnouncePubSub
  store: SyncStore
  groupId: string
  log: Logger
  /**
   * Membership: an announcement signed by a device that may not sync this
   * group is rejected by the topic validator, so gossipsub scores down the
   * peer that forwarded it. @default allow all
   */
  authorize?: (peerId: string, groupId: string) => boolean | Promise<boolean>
  /** Called when an announcement shows that `peer` (the forwarder) holds ops we lack. */
  onBehind: (peer: PeerId) => void
  /** Called after applying an announcement's ops; `deferred` arrived ahead of what we hold and were left for a pull. */
  onApplied?: (peer: PeerId, theirVector: VersionVector, ops: number, applied: number, bytes: number, deferred: number) => void
  /** Called after each publish with the peers it went to. */
  onPublished?: (recipients: readonly PeerId[], ops: number, bytes: number) => void
  /**
   * Called with the writer of each announcement that passed the membership
   * check: `mismatch` says how its versions differ from ours, or is undefined
   * when they match. A mismatching announcement is not applied.
   */
  onVersions?: (writer: PeerId, mismatch: string | undefined) => void
  /** @default DEFAULT_ANNOUNCE_DELAY_MS (5 ms) */
  delayMs?: number
  /** @default DEFAULT_ANNOUNCE_MAX_OPS_BYTES (16 KiB) */
  maxOpsBytes?: number
  /** @default DEFAULT_ANNOUNCE_MAX_INFLATED_BYTES (1 MiB) */
  maxInflatedBytes?: number
}

/** The group's topic: names the wire version, not the group (see ANNOUNCE_TOPIC_PREFIX). */
export function announceTopic (groupId: string): string {
  const tag = createHash('sha256').update(ANNOUNCE_TOPIC_DOMAIN).update(Uint8Array.of(0)).update(groupId, 'utf8').digest()
  return `${ANNOUNCE_TOPIC_PREFIX}${SYNC_WIRE_VERSION}/${tag.subarray(0, ANNOUNCE_TOPIC_TAG_BYTES).toString('hex')}`
}

/** How the versions an announcement carries differ from ours, or undefined. */
export function versionMismatch (a: Pick<Announce, 'protocolVersion' | 'dataFormatVersion'>): string | undefined {
  if (a.protocolVersion === SYNC_WIRE_VERSION && a.dataFormatVersion === OP_FORMAT_VERSION) return undefined
  return `announces with sync protocol ${a.protocolVersion} and op format ${a.dataFormatVersion}; this node speaks ${SYNC_WIRE_VERSION} and ${OP_FORMAT_VERSION}`
}

export class Announcer {
  readonly topic: string
  readonly #init: AnnouncerInit
  readonly #delayMs: number
  readonly #maxOpsBytes: number
  #pending: EncodedOp[] = []
  #pendingBytes = 0
  #overflow = false
  #timer: ReturnType<typeof setTimeout> | undefined
  #flushing: Promise<void> = Promise.resolve()
  #started = false

  constructor (init: AnnouncerInit) {
    this.#init = init
    this.topic = announceTopic(init.groupId)
    this.#delayMs = init.delayMs ?? DEFAULT_ANNOUNCE_DELAY_MS
    this.#maxOpsBytes = init.maxOpsBytes ?? DEFAULT_ANNOUNCE_MAX_OPS_BYTES
  }

  start (): void {
    const { pubsub } = this.#init
    pubsub.topicValidators.set(this.topic, (_peer, msg) => this.#validate(msg))
    pubsub.addEventListener('gossipsub:message', this.#onMessage)
    pubsub.subscribe(this.topic)
    this.#started = true
  }

  async stop (): Promise<void> {
    this.#started = false
    clearTimeout(this.#timer)
    this.#pending = []
    const { pubsub } = this.#init
    pubsub.removeEventListener('gossipsub:message', this.#onMessage)
    pubsub.topicValidators.delete(this.topic)
    try { pubsub.unsubscribe(this.topic) } catch {}
    await this.#flushing
  }

  /**
   * Queues local ops for the next announcement (a few ms from now). With no
   * ops it announces just our vector: after a session brought us ops from one
   * neighbour, the others learn that we have something for them.
   */
  announce (ops: readonly EncodedOp[]): void {
    if (!this.#started) return
    if (!this.#overflow) {
      this.#pendingBytes += encodedOpsBytes(ops)
      if (this.#pendingBytes > this.#maxOpsBytes) {
        this.#overflow = true
        this.#pending = []
      } else {
        this.#pending.push(...ops)
      }
    }
    this.#timer ??= setTimeout(() => {
      this.#timer = undefined
      this.#flushing = this.#flushing.then(async () => { await this.#flush() })
    }, this.#delayMs)
  }

  async #flush (): Promise<void> {
    const ops = this.#overflow ? [] : this.#pending
    this.#pending = []
    this.#pendingBytes = 0
    this.#overflow = false
    if (!this.#started) return
    const { store, pubsub, log } = this.#init
    try {
      const packed: PackedOps = ops.length > 0 ? await packOps(ops) : { compression: Compression.NONE, ops: new Uint8Array(0), count: 0, rawBytes: 0 }
      const data = Announce.encode({
        deviceId: parseDeviceId(store.deviceId),
        vector: vectorToWire(store.versionVector()),
        ...packed,
        protocolVersion: SYNC_WIRE_VERSION,
        dataFormatVersion: OP_FORMAT_VERSION
      })
      const { recipients } = await pubsub.publish(this.topic, data)
      this.#init.onPublished?.(recipients, ops.length, data.byteLength)
      log.trace('announced %d ops in %d bytes to %d peers', ops.length, data.byteLength, recipients.length)
    } catch (err) {
      log.error('could not announce %d ops - %e', ops.length, err)
    }
  }

  async #validate (msg: Message): Promise<'accept' | 'ignore' | 'reject'> {
    if (msg.type !== 'signed' || msg.topic !== this.topic) return 'reject'
    let a: Announce
    try {
      a = Announce.decode(msg.data, { limits: { vector: 10_000 } })
      const signer = parseDeviceId(msg.from.toString())
      if (a.deviceId.byteLength !== signer.byteLength || !a.deviceId.every((b, i) => b === signer[i])) return 'reject'
      const authorize = this.#init.authorize
      if (authorize !== undefined && !(await authorize(msg.from.toString(), this.#init.groupId))) return 'reject'
    } catch {
      return 'reject'
    }
    // Another version is not an attack: drop it without scoring the forwarder, and say so for the writer.
    const mismatch = versionMismatch(a)
    this.#init.onVersions?.(msg.from, mismatch)
    return mismatch === undefined ? 'accept' : 'ignore'
  }

  readonly #onMessage = (evt: CustomEvent<{ propagationSource: PeerId, msgId: string, msg: Message }>): void => {
    const { msg, propagationSource } = evt.detail
    if (msg.topic !== this.topic) return
    void this.#receive(propagationSource, msg).catch(err => {
      this.#init.log.error('bad announcement via %p - %e', propagationSource, err)
    })
  }

  async #receive (from: PeerId, msg: Message): Promise<void> {
    const { store, log } = this.#init
    const a = Announce.decode(msg.data, { limits: { vector: 10_000 } })
    const theirs = vectorFromWire(a.vector, 'announced vector')
    let applied = 0
    let deferred = 0
    if (a.count > 0) {
      const ops = await unpackOps(a, { maxInflatedBytes: this.#init.maxInflatedBytes ?? DEFAULT_ANNOUNCE_MAX_INFLATED_BYTES })
      // Ops beyond a hole in our prefix would only be refused as a gap: a session pulls them with what is missing.
      const { ready, ahead } = splitAhead(store.versionVector(), ops)
      deferred = ahead
      if (ready.length > 0) {
        const result = store.applyRemote(ready)
        applied = result.applied
        if (result.rejected.length > 0) log.trace('%d announced ops via %p not applied, first: %s', result.rejected.length, from, result.rejected[0]!.message)
      }
      if (deferred > 0) log.trace('%d announced ops via %p arrived ahead of what we hold: pulling', deferred, from)
    }
    this.#init.onApplied?.(from, theirs, a.count, applied, msg.data.byteLength, deferred)
    if (isAhead(theirs, store.versionVector())) this.#init.onBehind(from)
  }
}
