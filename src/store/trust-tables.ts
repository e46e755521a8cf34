/**
 * Trust state in SQL: the group this replica belongs to, the membership
 * records it knows, and the invites it issued (an `InviteStore` for pairing).
 * Invite claims are a check-and-set in one statement, so an invite is used
 * once even if two joiners race.
 */
import type { ClaimResult, InviteStore, IssuedInvite } from '../auth/invite-store.js'
import type { Db, Statement } from './sqlite.js'

export class TrustTables implements InviteStore {
  readonly #getMeta: Statement
  readonly #setMeta: Statement
  readonly #records: Statement
  readonly #saveRecord: Statement
  readonly #clearRecords: Statement
  readonly #addInvite: Statement
  readonly #getInvite: Statement
  readonly #claim: Statement
  readonly #fail: Statement
  readonly #deleteInvite: Statement
  readonly #listInvites: Statement
  readonly #prune: Statement

  constructor (db: Db) {
    this.#getMeta = db.prepare("SELECT value FROM meta WHERE name = 'group'").pluck()
    this.#setMeta = db.prepare("INSERT INTO meta (name, value) VALUES ('group', ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value")
    this.#records = db.prepare('SELECT body FROM membership_records').pluck()
    this.#saveRecord = db.prepare('INSERT OR IGNORE INTO membership_records (id, body) VALUES (?, ?)')
    this.#clearRecords = db.prepare('DELETE FROM membership_records')
    this.#addInvite = db.prepare('INSERT INTO invites (id, grp, proof_key, created_at, expires_at, failures) VALUES (?, ?, ?, ?, ?, ?)')
    this.#getInvite = db.prepare('SELECT * FROM invites WHERE id = ?')
    this.#claim = db.prepare('UPDATE invites SET used_by = ?, used_at = ? WHERE id = ? AND used_by IS NULL')
    this.#fail = db.prepare('UPDATE invites SET failures = failures + 1 WHERE id = ? RETURNING failures').pluck()
    this.#deleteInvite = db.prepare('DELETE FROM invites WHERE id = ?')
    this.#listInvites = db.prepare('SELECT * FROM invites ORDER BY created_at')
    this.#prune = db.prepare('DELETE FROM invites WHERE expires_at < ?')
  }

  group (): Uint8Array | undefined {
    const v = this.#getMeta.get() as Uint8Array | undefined
    return v === undefined ? undefined : Uint8Array.from(v)
  }

  /** Switches to another group: its records replace the old group's. */
  setGroup (pub: Uint8Array): void {
    this.#setMeta.run(pub)
    this.#clearRecords.run()
  }

  records (): Uint8Array[] { return this.#records.all() as Uint8Array[] }

  saveRecord (id: string, body: Uint8Array): void { this.#saveRecord.run(id, body) }

  async add (invite: IssuedInvite): Promise<void> {
    this.#addInvite.run(invite.id, invite.group, invite.proofKey, invite.createdAt, invite.expiresAt, invite.failures)
  }

  async get (id: string): Promise<IssuedInvite | undefined> {
    const row = this.#getInvite.get(id) as InviteRow | undefined
    return row === undefined ? undefined : fromRow(row)
  }

  async claim (id: string, by: Uint8Array, at: number): Promise<ClaimResult> {
    if (this.#claim.run(by, at, id).changes === 1) return 'claimed'
    const row = this.#getInvite.get(id) as InviteRow | undefined
    if (row === undefined) return 'unknown'
    return row.used_by !== null && Buffer.compare(row.used_by, by) === 0 ? 'claimed' : 'used'
  }

  async recordFailure (id: string): Promise<number> {
    return (this.#fail.get(id) as number | undefined) ?? 0
  }

  async delete (id: string): Promise<void> { this.#deleteInvite.run(id) }

  async list (): Promise<IssuedInvite[]> { return (this.#listInvites.all() as InviteRow[]).map(fromRow) }

  async prune (now: number): Promise<number> { return this.#prune.run(now).changes }
}

interface InviteRow {
  id: string
  grp: Buffer
  proof_key: Buffer
  created_at: number
  expires_at: number
  failures: number
  used_by: Buffer | null
  used_at: number | null
}

function fromRow (r: InviteRow): IssuedInvite {
  return {
    id: r.id,
    group: Uint8Array.from(r.grp),
    proofKey: Uint8Array.from(r.proof_key),
    createdAt: r.created_at,
    expiresAt: r.expires_at,
    failures: r.failures,
    ...(r.used_by === null ? {} : { usedBy: Uint8Array.from(r.used_by) }),
    ...(r.used_at === null ? {} : { usedAt: r.used_at })
  }
}
