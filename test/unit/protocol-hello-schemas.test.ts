/**
 * Schema versions in the Hello: carried as a new optional field (6), so a
 * node built before it (its generated codec kept in test/helpers) reads a
 * new hello unchanged, and a new node reads an old hello as "no schemas".
 */
import { describe, expect, it } from 'vitest'
import { OP_FORMAT_VERSION } from '../../src/oplog/op.js'
import { DeviceKey } from '../../src/oplog/keys.js'
import { SYNC_WIRE_VERSION } from '../../src/protocol/constants.js'
import { checkHello, decodeFrame, type CheckedHello } from '../../src/protocol/messages.js'
import { SyncMessage } from '../../src/protocol/pb/sync.js'
import { SyncMessage as OldSyncMessage } from '../helpers/sync-pb-before-schemas.js'
import { MemoryStore } from '../helpers/memory-store.js'
import { syncPair } from '../helpers/session-pair.js'

const key = DeviceKey.generate()
const base = { protocolVersion: SYNC_WIRE_VERSION, groupId: 'g', deviceId: key.publicKey, dataFormatVersion: OP_FORMAT_VERSION, vector: [{ origin: key.publicKey, seq: 7 }] }

describe('schema versions in the hello', () => {
  it('an older node reads a new hello, ignoring the versions', () => {
    const bytes = SyncMessage.encode({ hello: { ...base, schemas: [{ collection: 'notes', version: 3 }, { collection: 'hosts', version: 1 }] } })
    const old = OldSyncMessage.decode(bytes)
    expect(old.hello).toEqual({ ...base, vector: [{ origin: key.publicKey, seq: 7 }] })
  })

  it('a new node reads an old hello as declaring nothing, and a new one with its versions', () => {
    const oldBytes = OldSyncMessage.encode({ hello: base })
    const fromOld = decodeFrame(oldBytes)
    if (fromOld.kind !== 'hello') throw new Error(`decoded a ${fromOld.kind}`)
    expect(checkHello(fromOld.hello, { groupId: 'g' }).schemas).toEqual(new Map())
    const fromNew = decodeFrame(SyncMessage.encode({ hello: { ...base, schemas: [{ collection: 'notes', version: 3 }] } }))
    if (fromNew.kind !== 'hello') throw new Error(`decoded a ${fromNew.kind}`)
    expect(checkHello(fromNew.hello, { groupId: 'g' }).schemas).toEqual(new Map([['notes', 3]]))
  })

  it('each side of a session learns the versions the other declared', async () => {
    const a = Object.assign(new MemoryStore(), { schemaVersions: () => new Map([['notes', 2]]) })
    const b = new MemoryStore()
    const seen: CheckedHello[] = []
    const [ra, rb] = await syncPair(a, b, { initiator: { onHello: h => seen.push(h) }, responder: { onHello: h => seen.push(h) } })
    expect(ra.ok && rb.ok).toBe(true)
    expect(seen.map(h => [h.deviceId, h.schemas])).toEqual(expect.arrayContaining([[a.deviceId, new Map([['notes', 2]])], [b.deviceId, new Map()]]))
  })
})
