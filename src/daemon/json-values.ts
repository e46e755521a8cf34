/**
 * Values over JSON: everything maps to itself except bytes, which JSON cannot
 * hold; they travel as `{ "$bytes": "<base64>" }` both ways.
 */
export function toJson (v: unknown): unknown {
  if (v instanceof Uint8Array) return { $bytes: Buffer.from(v).toString('base64') }
  if (Array.isArray(v)) return v.map(toJson)
  if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, toJson(x)]))
  return v
}

export function fromJson (v: unknown): unknown {
  if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
    const keys = Object.keys(v)
    if (keys.length === 1 && keys[0] === '$bytes' && typeof (v as { $bytes: unknown }).$bytes === 'string') {
      return new Uint8Array(Buffer.from((v as { $bytes: string }).$bytes, 'base64'))
    }
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, fromJson(x)]))
  }
  if (Array.isArray(v)) return v.map(fromJson)
  return v
}
