/**
 * Live propagation: local writes announced on a gossipsub topic per group.
 *
 * Only members see an announcement: gossipsub runs behind the member gate
 * (../members/member-gate.ts), so its mesh, fanout, flood-publish set and gossip hold
 * members only, and the topic name is a hash of the group id (a stranger
 * that sees it learns nothing of the group).
 *
 * An announcement carries the writer's new ops (when they are small) and its
 * version vector. This module publishes, validates and decodes them; the
 * sync service applies the ops (`gossip-inbox.ts`, which holds ops that
 * arrive out of order and applies them in order) and hands the vector to the
 * gap tracker (`gap-tracker.ts`), which pulls what gossip did not bring, from
 * one peer, once it has stayed missing for a while. Gossip is the hot path;
 * sessions are for gaps.
 *
 * Writes committed in the same turn of the event loop are sent as one
 * message, so a burst of small transactions costs one publish; while writes
 * keep coming, announcements leave at most every
 * DEFAULT_ANNOUNCE_MIN_INTERVAL_MS, and less
 * often the more members they reach (`announceInterval`), since each message
 * costs every receiver a signature check, a transaction and the libp2p
 * stack's work per message whatever it carries. When writes come faster than
 * that (an announcement gathered several), the interval stretches further
 * (the busy interval), until they come one per announcement again. The pending list is
 * bounded: a write that would take it past the inline limit sends it at once,
 * and a write larger than the limit goes out as our vector alone (receivers
 * then pull), so a bulk import never piles up here. A node that pulled ops
 * in a session announces its vector alone a little later
 * (`announceVector`), unless its own writes carried it; so does a node that
 * sees a peer subscribe to the topic that may lack ops it holds
 * (`peerMayLack`), since what it announced before reached that peer not at
 * all (a write in the moment between a connect session and the peer's
 * SUBSCRIBE would otherwise wait for anti-entropy).
 *
 * Forwarding: flood publish sends an announcement straight to every member
 * we are connected to, and each receiver forwards it to its mesh, for
 * members that are not connected to the writer (a line A - B - C). When the
 * writer knows the group's members (`members`) and is about to publish to
 * every one of them, the announcement says so (`sentToAll`) and receivers
 * apply it without forwarding it: in a full mesh each member then gets one
 * copy instead of about three. If the publish did not reach them all after
 * all (a member scored under the publish threshold, say), it is published
 * once more without the mark. The mark is inside the signed message, so no
 * forwarder can add it.
 *
 * Gossipsub signs every message with the sender's libp2p key, which is the
 * device key, so an announcement whose device id is not its signer is
 * rejected (and the forwarder's score pays for it). An announcement carries
 * the writer's sync protocol and op format versions, as a sync Hello does: a
 * node with other versions applies nothing from it and reports the mismatch
 * for that peer.
 */
import { createHash } from 'node:crypto'
import type { Message } from '@libp2p/gossipsub'
import type { Logger, PeerId, TypedEventTarget } from '@libp2p/interface'
import { OP_FORMAT_VERSION, type EncodedOp } from '../../oplog/op.js'
import { parseDeviceId } from '../../oplog/keys.js'
import { SYNC_WIRE_VERSION } from '../../protocol/constants.js'
import { readOpHeader } from '../../oplog/op-header.js'
import { encodedOpsBytes, packOps, unpackOps, type PackedOps } from '../../protocol/ops-codec.js'
import { Announce, Compression } from '../../protocol/pb/sync.js'
import type { SyncStore, VersionVector } from '../../protocol/port.js'
import { vectorFromWire, vectorToWire } from '../../protocol/vector.js'
import {
  ANNOUNCE_BUSY_MIN_WRITES, ANNOUNCE_TOPIC_DOMAIN, ANNOUNCE_TOPIC_PREFIX, ANNOUNCE_TOPIC_TAG_BYTES,
  DEFAULT_ANNOUNCE_BUSY_INTERVAL_PER_RECIPIENT_MS, DEFAULT_ANNOUNCE_BUSY_MAX_INTERVAL_MS, DEFAULT_ANNOUNCE_DELAY_MS, DEFAULT_ANNOUNCE_MAX_INFLATED_BYTES,
  DEFAULT_ANNOUNCE_INTERVAL_PER_RECIPIENT_MS, DEFAULT_ANNOUNCE_MAX_INTERVAL_MS, DEFAULT_ANNOUNCE_MIN_INTERVAL_MS, DEFAULT_ANNOUNCE_MAX_OPS_BYTES,
  DEFAULT_ANNOUNCE_MIN_COMPRESS_BYTES, DEFAULT_VECTOR_ANNOUNCE_DELAY_MS
} from '../constants.js'

/** gossipsub's event when a peer's subscriptions change. */
type SubscriptionChange = CustomEvent<{ peerId: PeerId, subscriptions: Array<{ topic: string, subscribe: boolean }> }>

/** The parts of gossipsub the announcer uses. */
export interface AnnouncePubSub extends TypedEventTarget<{
  'gossipsub:message': CustomEvent<{ propagationSource: PeerId, msgId: string, msg: Message }>
  'subscription-change': SubscriptionChange
}> {
  subscribe(topic: string): void
  unsubscribe(topic: string): void
  publish(topic: string, data?: Uint8Array): Promise<{ recipients: PeerId[] }>
  getSubscribers(topic: string): PeerId[]
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
  /**
   * The group's members (device ids, ours among them). An announcement about
   * to be published to every other one of them is marked `sentToAll`, and
   * receivers do not forward it. @default unknown: every announcement is forwarded
   */
  members?: () => Iterable<string>
  /**
   * Asked when a peer subscribes to the topic: whether it may lack ops we hold
   * (as far as we know its vector). If so, our vector is announced a little
   * later (`announceVector`), since nothing we announced before reached it.
   * @default no announcement on subscription
   */
  peerMayLack?: (peerId: string) => boolean
  /** Called with each valid announcement of our group's versions, decoded (the caller applies its ops). */
  onAnnouncement: (announcement: ReceivedAnnouncement) => Promise<void>
  /**
   * Called after each publish with the peers it went to; `seqs` is the range
   * of our own seqs the announcement carried (absent when it carried none).
   */
  onPublished?: (recipients: readonly PeerId[], ops: number, bytes: number, seqs?: { first: number, last: number }) => void
  /**
   * Called when an announcement marked `sentToAll` did not go to every member
   * it counted on (`missed`: subscribed members gossipsub did not send it to)
   * and was published again, unmarked, for the others to forward.
   */
  onRepublished?: (missed: readonly string[]) => void
  /**
   * Called with the writer of each announcement that passed the membership
   * check: `mismatch` says how its versions differ from ours, or is undefined
   * when they match. A mismatching announcement is not applied.
   */
  onVersions?: (writer: PeerId, mismatch: string | undefined) => void
  /** @default DEFAULT_ANNOUNCE_DELAY_MS (0: the next turn of the event loop) */
  delayMs?: number
  /** Least time between two announcements while writes keep coming. @default DEFAULT_ANNOUNCE_MIN_INTERVAL_MS (100 ms) */
  minIntervalMs?: number
  /** The interval grows by this per recipient of the last announcement (see `announceInterval`). @default DEFAULT_ANNOUNCE_INTERVAL_PER_RECIPIENT_MS (25 ms) */
  intervalPerRecipientMs?: number
  /** ... up to this. @default DEFAULT_ANNOUNCE_MAX_INTERVAL_MS (200 ms), or minIntervalMs when that is longer */
  maxIntervalMs?: number
  /**
   * While busy (the last announcement gathered ANNOUNCE_BUSY_MIN_WRITES writes or more), the interval
   * grows by this per recipient instead. @default DEFAULT_ANNOUNCE_BUSY_INTERVAL_PER_RECIPIENT_MS (60 ms)
   */
  busyIntervalPerRecipientMs?: number
  /** ... up to this. @default DEFAULT_ANNOUNCE_BUSY_MAX_INTERVAL_MS (500 ms), or minIntervalMs when that is longer */
  busyMaxIntervalMs?: number
  /** @default DEFAULT_VECTOR_ANNOUNCE_DELAY_MS (500 ms) */
  vectorDelayMs?: number
  /** @default DEFAULT_ANNOUNCE_MAX_OPS_BYTES (16 KiB) */
  maxOpsBytes?: number
  /** @default DEFAULT_ANNOUNCE_MAX_INFLATED_BYTES (1 MiB) */
  maxInflatedBytes?: number
}

/** An announcement that passed validation, decoded. */
export interface ReceivedAnnouncement {
  /** The connected peer that passed it to us. */
  readonly forwarder: PeerId
  /** The device that wrote and signed it (may be two hops away). */
  readonly writer: PeerId
  /** The writer's vector when it published. */
  readonly vector: VersionVector
  readonly ops: readonly EncodedOp[]
  /** The message's size. */
  readonly bytes: number
  /** The writer published it to every member itself, so we did not forward it. */
  readonly sentToAll: boolean
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

/** Pacing of announcements while writes keep coming. */
export interface AnnounceInterval {
  readonly minMs: number
  readonly perRecipientMs: number
  readonly maxMs: number
}

interface Timer { cancel: () => void }

/**
 * Runs `fn` after `ms`, or at the next turn of the event loop when `ms` is 0
 * or less: setImmediate, after the I/O callbacks of this turn (writes
 * committed by them go in the same announcement), rather than setTimeout,
 * which waits at least 1 ms.
 */
function later (ms: number, fn: () => void): Timer {
  if (ms <= 0) {
    const immediate = setImmediate(fn)
    return { cancel: () => { clearImmediate(immediate) } }
  }
  const timeout = setTimeout(fn, ms)
  return { cancel: () => { clearTimeout(timeout) } }
}

/**
 * How long after the last announcement the next may leave while writes keep
 * coming, given how many peers the last one reached: each announcement costs
 * every recipient its per-message work, so the interval grows with them
 * (within `minMs`..`maxMs`) and a writer's cost to the group stays about the
 * same whatever its size.
 */
export function announceInterval (recipients: number, p: AnnounceInterval): number {
  return Math.min(Math.max(p.minMs, recipients * p.perRecipientMs), Math.max(p.maxMs, p.minMs))
}

export class Announcer {
  readonly topic: string
  readonly #init: AnnouncerInit
  readonly #delayMs: number
  readonly #interval: AnnounceInterval
  readonly #busyInterval: AnnounceInterval
  /** Peers the last announcement reached (sets the interval). */
  #lastRecipients = 0
  /** Writes (announce calls) gathered for the pending announcement, and for the last one (busy or not). */
  #pendingWrites = 0
  #lastWrites = 0
  readonly #vectorDelayMs: number
  readonly #maxOpsBytes: number
  #pending: EncodedOp[] = []
  #pendingBytes = 0
  #overflow = false
  #timer: Timer | undefined
  #vectorTimer: ReturnType<typeof setTimeout> | undefined
  /** When the last announcement was built (ms, performance clock). */
  #lastFlushAt = -Infinity
  #flushing: Promise<void> = Promise.resolve()
  #started = false
  /** Announcements the validator decoded, for the message event that follows (the same message object). */
  readonly #decoded = new WeakMap<Message, Announce>()

  constructor (init: AnnouncerInit) {
    this.#init = init
    this.topic = announceTopic(init.groupId)
    this.#delayMs = init.delayMs ?? DEFAULT_ANNOUNCE_DELAY_MS
    this.#interval = {
      minMs: init.minIntervalMs ?? DEFAULT_ANNOUNCE_MIN_INTERVAL_MS,
      perRecipientMs: init.intervalPerRecipientMs ?? DEFAULT_ANNOUNCE_INTERVAL_PER_RECIPIENT_MS,
      maxMs: init.maxIntervalMs ?? DEFAULT_ANNOUNCE_MAX_INTERVAL_MS
    }
    this.#busyInterval = {
      minMs: this.#interval.minMs,
      perRecipientMs: init.busyIntervalPerRecipientMs ?? DEFAULT_ANNOUNCE_BUSY_INTERVAL_PER_RECIPIENT_MS,
      maxMs: init.busyMaxIntervalMs ?? DEFAULT_ANNOUNCE_BUSY_MAX_INTERVAL_MS
    }
    this.#vectorDelayMs = init.vectorDelayMs ?? DEFAULT_VECTOR_ANNOUNCE_DELAY_MS
    this.#maxOpsBytes = init.maxOpsBytes ?? DEFAULT_ANNOUNCE_MAX_OPS_BYTES
  }

  start (): void {
    const { pubsub } = this.#init
    pubsub.topicValidators.set(this.topic, async (peer, msg) => await this.#validate(peer, msg))
    pubsub.addEventListener('gossipsub:message', this.#onMessage)
    pubsub.addEventListener('subscription-change', this.#onSubscriptionChange)
    pubsub.subscribe(this.topic)
    this.#started = true
  }

  async stop (): Promise<void> {
    this.#started = false
    this.#timer?.cancel()
    clearTimeout(this.#vectorTimer)
    this.#pending = []
    const { pubsub } = this.#init
    pubsub.removeEventListener('gossipsub:message', this.#onMessage)
    pubsub.removeEventListener('subscription-change', this.#onSubscriptionChange)
    pubsub.topicValidators.delete(this.topic)
    try { pubsub.unsubscribe(this.topic) } catch {}
    await this.#flushing
  }

  /**
   * Queues local ops (one write) for the next announcement: at the next turn
   * of the event loop, or, while writes keep coming, once the interval has
   * passed since the last one (`announceInterval`: 100 ms, up to 200 ms in larger groups;
   * up to 500 ms while busy, that is when the last announcement gathered
   * ANNOUNCE_BUSY_MIN_WRITES writes or more).
   * Ops that would take the pending list past the inline limit send what is
   * pending at once and start a new list; a single write larger than the
   * limit is announced by our vector alone (receivers pull it).
   */
  announce (ops: readonly EncodedOp[]): void {
    if (!this.#started) return
    const bytes = encodedOpsBytes(ops)
    if (!this.#overflow && this.#pending.length > 0 && this.#pendingBytes + bytes > this.#maxOpsBytes) this.#flushNow()
    this.#pendingWrites++
    if (!this.#overflow) {
      this.#pendingBytes += bytes
      if (this.#pendingBytes > this.#maxOpsBytes) {
        this.#overflow = true
        this.#pending = []
      } else {
        this.#pending.push(...ops)
      }
    }
    if (this.#timer === undefined) {
      const now = performance.now()
      const at = Math.max(now + this.#delayMs, this.#lastFlushAt + this.#currentInterval())
      this.#timer = later(at - now, () => {
        this.#timer = undefined
        this.#flushNow()
      })
    }
  }

  /** The interval after the last announcement: the busy one when it gathered several writes (never shorter than the normal one). */
  #currentInterval (): number {
    const normal = announceInterval(this.#lastRecipients, this.#interval)
    if (this.#lastWrites < ANNOUNCE_BUSY_MIN_WRITES) return normal
    return Math.max(normal, announceInterval(this.#lastRecipients, this.#busyInterval))
  }

  /**
   * Announces our vector alone, a little later (after a session brought us
   * ops, or a peer subscribed): neighbours learn what we hold. Skipped when
   * an announcement of our own writes leaves in between, since it carries
   * the vector too.
   */
  announceVector (): void {
    if (!this.#started || this.#vectorTimer !== undefined) return
    const asked = performance.now()
    this.#vectorTimer = setTimeout(() => {
      this.#vectorTimer = undefined
      if (this.#lastFlushAt >= asked || this.#timer !== undefined) return
      this.#flushNow()
    }, this.#vectorDelayMs)
  }

  /** Takes what is pending and publishes it after the announcements before it. */
  #flushNow (): void {
    this.#timer?.cancel()
    this.#timer = undefined
    const ops = this.#overflow ? [] : this.#pending
    this.#pending = []
    this.#pendingBytes = 0
    this.#lastWrites = this.#pendingWrites
    this.#pendingWrites = 0
    this.#overflow = false
    this.#lastFlushAt = performance.now()
    this.#flushing = this.#flushing.then(async () => { await this.#publish(ops) })
  }

  async #publish (ops: readonly EncodedOp[]): Promise<void> {
    if (!this.#started) return
    const { store, pubsub, log } = this.#init
    try {
      const packed: PackedOps = ops.length > 0
        ? await packOps(ops, { minCompressBytes: DEFAULT_ANNOUNCE_MIN_COMPRESS_BYTES })
        : { compression: Compression.NONE, ops: new Uint8Array(0), count: 0, rawBytes: 0 }
      const announce = {
        deviceId: parseDeviceId(store.deviceId),
        vector: vectorToWire(store.versionVector()),
        ...packed,
        protocolVersion: SYNC_WIRE_VERSION,
        dataFormatVersion: OP_FORMAT_VERSION
      }
      const others = this.#otherMembers()
      const sentToAll = others !== undefined && others.length > 0 && this.#allSubscribed(others)
      let data = Announce.encode({ ...announce, sentToAll })
      let { recipients } = await pubsub.publish(this.topic, data)
      if (sentToAll) {
        const reached = new Set(recipients.map(p => p.toString()))
        const missed = others.filter(m => !reached.has(m))
        if (missed.length > 0) {
          // Someone we counted on was not sent it: again, for the others to forward.
          log('announcement missed %d of %d members (%s); published again for forwarding', missed.length, others.length, missed.join(', '))
          this.#init.onRepublished?.(missed)
          data = Announce.encode({ ...announce, sentToAll: false });
          ({ recipients } = await pubsub.publish(this.topic, data))
        }
      }
      this.#lastRecipients = recipients.length
      // Our pending ops are our own writes, in order and contiguous.
      const last = ops.length > 0 ? readOpHeader(ops[ops.length - 1]!.body)?.seq : undefined
      this.#init.onPublished?.(recipients, ops.length, data.byteLength, last === undefined ? undefined : { first: last - ops.length + 1, last })
      log.trace('announced %d ops in %d bytes to %d peers', ops.length, data.byteLength, recipients.length)
    } catch (err) {
      log.error('could not announce %d ops - %e', ops.length, err)
    }
  }

  /** The members other than us, or undefined when we do not know them (then the announcement is forwarded as usual). */
  #otherMembers (): string[] | undefined {
    if (this.#init.members === undefined) return undefined
    try {
      const self = this.#init.store.deviceId
      const others: string[] = []
      for (const m of this.#init.members()) if (m !== self) others.push(m)
      return others
    } catch (err) {
      this.#init.log.error('could not list the group\'s members; announcing for forwarding - %e', err)
      return undefined
    }
  }

  /** Every one of `ids` is subscribed to our topic, so a flood publish goes to each (unless its score bars it). */
  #allSubscribed (ids: readonly string[]): boolean {
    const subscribers = new Set(this.#init.pubsub.getSubscribers(this.topic).map(p => p.toString()))
    return ids.every(id => subscribers.has(id))
  }

  async #validate (from: PeerId, msg: Message): Promise<'accept' | 'ignore' | 'reject'> {
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
    this.#decoded.set(msg, a)
    // Another version is not an attack: drop it without scoring the forwarder, and say so for the writer.
    const mismatch = versionMismatch(a)
    this.#init.onVersions?.(msg.from, mismatch)
    if (mismatch !== undefined) return 'ignore'
    if (!a.sentToAll) return 'accept'
    // Every member has it from the writer: take it here and tell gossipsub to drop it (not forwarded, not
    // gossiped, nobody's score changed), instead of accepting it and having it forwarded.
    this.#handOver(from, msg, a)
    return 'ignore'
  }

  /**
   * A peer joined our topic (it connected, or came back): it was sent none of
   * what we announced before, and a write of ours between its connect session
   * and its SUBSCRIBE reached nobody (gossipsub offers recent messages to a
   * random few of the peers outside its mesh, for 3 s). If it may lack ops
   * we hold, our vector, a little later, lets its gap tracker pull them now
   * rather than at the next anti-entropy.
   */
  readonly #onSubscriptionChange = (evt: SubscriptionChange): void => {
    const { peerId, subscriptions } = evt.detail
    if (!subscriptions.some(s => s.subscribe && s.topic === this.topic)) return
    try {
      if (this.#init.peerMayLack?.(peerId.toString()) === true) this.announceVector()
    } catch (err) {
      this.#init.log.error('could not tell what %p lacks - %e', peerId, err)
    }
  }

  readonly #onMessage = (evt: CustomEvent<{ propagationSource: PeerId, msgId: string, msg: Message }>): void => {
    const { msg, propagationSource } = evt.detail
    if (msg.topic !== this.topic || msg.type !== 'signed') return // the validator let only signed ones through
    let a = this.#decoded.get(msg)
    if (a === undefined) {
      try { a = Announce.decode(msg.data, { limits: { vector: 10_000 } }) } catch (err) {
        this.#init.log.error('bad announcement via %p - %e', propagationSource, err)
        return
      }
    }
    this.#handOver(propagationSource, msg, a)
  }

  #handOver (from: PeerId, msg: Message & { type: 'signed' }, a: Announce): void {
    void this.#receive(from, msg, a).catch(err => {
      this.#init.log.error('bad announcement via %p - %e', from, err)
    })
  }

  async #receive (from: PeerId, msg: Message & { type: 'signed' }, a: Announce): Promise<void> {
    const vector = vectorFromWire(a.vector, 'announced vector')
    const ops = a.count > 0 ? await unpackOps(a, { maxInflatedBytes: this.#init.maxInflatedBytes ?? DEFAULT_ANNOUNCE_MAX_INFLATED_BYTES }) : []
    await this.#init.onAnnouncement({ forwarder: from, writer: msg.from, vector, ops, bytes: msg.data.byteLength, sentToAll: a.sentToAll })
  }
}
