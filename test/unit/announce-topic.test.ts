/** The gossip topic names the wire version, never the group; announcements carry and check both versions. */
import { describe, expect, it } from 'vitest'
import { announceTopic, versionMismatch } from '../../src/net/sync/announcer.js'
import { OP_FORMAT_VERSION } from '../../src/oplog/op.js'
import { SYNC_WIRE_VERSION } from '../../src/protocol/constants.js'

describe('announceTopic', () => {
  const group = 'wgACEm5WydqLmEfm5NSTvw5wEnTewuCtp5APknHtwQBeXD'

  it('is a hash of the group id under the wire version', () => {
    const topic = announceTopic(group)
    expect(topic).toMatch(new RegExp(`^/weft/ops/${SYNC_WIRE_VERSION}/[0-9a-f]{32}$`))
    expect(topic).not.toContain(group)
    expect(topic).not.toContain(group.slice(2, 12))
    expect(announceTopic(group)).toBe(topic)
    expect(announceTopic(group.slice(0, -1) + 'E')).not.toBe(topic)
  })
})

describe('versionMismatch', () => {
  it('is undefined for our versions and names both sides otherwise', () => {
    expect(versionMismatch({ protocolVersion: SYNC_WIRE_VERSION, dataFormatVersion: OP_FORMAT_VERSION })).toBeUndefined()
    expect(versionMismatch({ protocolVersion: SYNC_WIRE_VERSION, dataFormatVersion: OP_FORMAT_VERSION + 1 })).toBe(
      `announces with sync protocol ${SYNC_WIRE_VERSION} and op format ${OP_FORMAT_VERSION + 1}; this node speaks ${SYNC_WIRE_VERSION} and ${OP_FORMAT_VERSION}`)
    // A build before versions were announced sends neither (0).
    expect(versionMismatch({ protocolVersion: 0, dataFormatVersion: 0 })).toContain('sync protocol 0')
  })
})
