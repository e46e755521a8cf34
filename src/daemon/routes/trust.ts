/**
 * The group: its devices, revoking one, inviting a device and joining a group.
 *
 *   GET  /v1/devices
 *   POST /v1/devices/revoke  { device }
 *   POST /v1/invite          { ttlMs? }
 *   POST /v1/join            { code, name? }
 */
import { encodeAdmission } from '../../auth/certificate.js'
import { createInvite, decodeInviteCode } from '../../auth/invite.js'
import { renderInviteQr } from '../../auth/qr.js'
import { InvalidArgumentError, WeftError } from '../../errors.js'
import { formatHlc } from '../../hlc/index.js'
import { deviceIdToString, parseDeviceId } from '../../oplog/keys.js'
import type { DeviceView, InviteResponse, JoinResponse, RevokeResponse } from '../api-types.js'
import type { Route } from '../control-api.js'
import { bodyObject, requireNetwork, type DaemonContext } from './context.js'

/** Invites expired longer ago than this are forgotten when a new one is made. */
const KEEP_EXPIRED_INVITES_MS = 24 * 3600_000

export function trustRoutes (d: DaemonContext): Route[] {
  return [
    { path: 'v1/devices', methods: { GET: () => devices(d) } },
    { path: 'v1/devices/revoke', methods: { POST: req => revoke(d, req.body) } },
    { path: 'v1/invite', methods: { POST: async req => await invite(d, req.body) } },
    { path: 'v1/join', methods: { POST: async req => await join(d, req.body, req.signal) } }
  ]
}

export function devices (d: DaemonContext): DeviceView[] {
  const m = d.replica.membership
  if (m === undefined) return []
  const successors = d.replica.successors()
  return m.members().map(member => ({
    device: member.id,
    name: member.name,
    self: member.id === d.replica.deviceId,
    addedBy: member.addedById,
    addedAt: new Date(member.addedAt).toISOString(),
    revoked: member.revoked === undefined ? null : { at: formatHlc(member.revoked.at), by: member.revoked.byId },
    replacedBy: successors.get(member.id) ?? null
  }))
}

export function revoke (d: DaemonContext, body: unknown): RevokeResponse {
  const { device } = bodyObject(body)
  if (typeof device !== 'string') throw new InvalidArgumentError('body needs "device": the device id to revoke')
  const r = d.replica.revoke(parseDeviceId(device))
  d.log('info', 'revoked a device', { device })
  return { device, at: formatHlc(r.at) }
}

export async function invite (d: DaemonContext, body: unknown): Promise<InviteResponse> {
  const ttl = bodyObject(body).ttlMs
  if (ttl !== undefined && (typeof ttl !== 'number' || !Number.isSafeInteger(ttl))) throw new InvalidArgumentError('"ttlMs" must be an integer number of milliseconds')
  const g = d.replica.group
  if (g === undefined) throw new WeftError('this device is in no group', 'NO_GROUP')
  const addresses = requireNetwork(d, ', so no device could reach this one').inviteAddresses()
  const created = createInvite({
    group: g.pub,
    inviter: d.replica.deviceKey.publicKey,
    addresses,
    now: Date.now(),
    ...(ttl === undefined ? {} : { ttlMs: ttl })
  })
  await d.replica.invites.add(created.issued)
  await d.replica.invites.prune(Date.now() - KEEP_EXPIRED_INVITES_MS)
  let qr: string | null = null
  try { qr = await renderInviteQr(created.code) } catch {}
  return { code: created.code, group: g.id, addresses, expiresAt: new Date(created.invite.expiresAt).toISOString(), qr }
}

/** Joins the group of the device that made the invite code, then restarts the network in the new group (`weft recover` joins through this too). */
export async function join (d: DaemonContext, body: unknown, signal: AbortSignal): Promise<JoinResponse> {
  const b = bodyObject(body)
  if (typeof b.code !== 'string') throw new InvalidArgumentError('body needs "code": the invite code from weft invite')
  if (b.name !== undefined && typeof b.name !== 'string') throw new InvalidArgumentError('"name" must be a string: the name this device shows to the group')
  const name = b.name ?? d.config.deviceName
  const invitation = decodeInviteCode(b.code)
  const joined = await requireNetwork(d).join(invitation, name, signal)
  const before = d.replica.group?.id
  d.replica.joinGroup(joined.groupPub, joined.chain.map(encodeAdmission))
  d.log('info', 'joined a group', { group: joined.groupId, left: before })
  // The node's group id, topic and authorization come from the group: start it again, and reach the inviter first.
  const inviter = deviceIdToString(invitation.inviter)
  await d.restartNetwork(invitation.addresses.map(a => `${a}/p2p/${inviter}`))
  return { group: joined.groupId, inviter, previousGroup: before ?? null }
}
