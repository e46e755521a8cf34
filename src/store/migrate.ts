/**
 * Forward-only schema migrations from `migrations/NNNN-name.sql`, applied in
 * one transaction at open and tracked with PRAGMA user_version. A database
 * written by a newer weft (user_version above what this build knows) is
 * refused, never opened: older code would misread it.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { StoreOpenError } from '../errors.js'
import { quickCheck, RECOVER_HINT, type Db } from './sqlite.js'

export interface Migration { readonly version: number, readonly name: string, readonly sql: string }

/** The migrations folder sits at the package root, above src/ (or dist/src/). */
function migrationsDir (): string {
  let dir = dirname(fileURLToPath(import.meta.url))
  for (let i = 0; i < 5; i++) {
    const candidate = join(dir, 'migrations')
    if (existsSync(join(candidate, '0001-init.sql'))) return candidate
    dir = dirname(dir)
  }
  throw new StoreOpenError('cannot find the migrations folder of this weft installation')
}

let cached: Migration[] | undefined

export function loadMigrations (): Migration[] {
  if (cached !== undefined) return cached
  const dir = migrationsDir()
  const list: Migration[] = []
  for (const file of readdirSync(dir).sort()) {
    const m = /^(\d{4})-([a-z0-9-]+)\.sql$/.exec(file)
    if (m === null) continue
    list.push({ version: Number(m[1]), name: m[2]!, sql: readFileSync(join(dir, file), 'utf8') })
  }
  list.forEach((m, i) => {
    if (m.version !== i + 1) throw new StoreOpenError(`migrations are not numbered 0001, 0002, … without gaps (found ${m.version} at position ${i + 1})`)
  })
  cached = list
  return list
}

/** Migrates `db` to the newest schema. Returns the versions applied. */
export function migrate (db: Db, file: string): number[] {
  const migrations = loadMigrations()
  const latest = migrations.length
  const current = db.pragma('user_version', { simple: true }) as number
  if (current > latest) {
    throw new StoreOpenError(`database ${file} has schema version ${current}, newer than this weft understands (${latest}); upgrade weft to open it`, { reason: 'newer_schema' })
  }
  if (current === latest) return []
  const pending = migrations.slice(current)
  db.transaction(() => {
    for (const m of pending) db.exec(m.sql)
    db.pragma(`user_version = ${latest}`)
  })()
  const problems = quickCheck(db)
  if (problems.length > 0) throw new StoreOpenError(`database ${file} failed its integrity check after migration: ${problems.slice(0, 5).join('; ')}. ${RECOVER_HINT}`, { reason: 'corrupt' })
  return pending.map(m => m.version)
}
