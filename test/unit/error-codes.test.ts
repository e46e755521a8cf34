/**
 * The error codes as one union (src/errors.ts) and the places where a code
 * arrives from another program and is parsed into it: the daemon's error body
 * read by the CLI, a sync peer's Failure, a pairing peer's error message.
 * Each is fed a code this build does not know, and falls back to INTERNAL
 * without losing what was said.
 */
import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { decodePairingMessage, encodePairingMessage, PairingError } from '../../src/auth/index.js'
import { apiError } from '../../src/cli/client.js'
import { exitCodeFor } from '../../src/cli/main.js'
import { HttpError } from '../../src/daemon/api-request.js'
import { ERROR_CODES, EXIT } from '../../src/daemon/error-codes.js'
import { ERROR_CODE_MEANINGS, isErrorCode, parseErrorCode, WeftError } from '../../src/errors.js'
import { ErrorCode as WireErrorCode } from '../../src/protocol/index.js'
import { fromWireError, InternalSyncError } from '../../src/protocol/errors.js'

describe('the error-code union', () => {
  it('has one row per code in the HTTP/exit table, and no other', () => {
    expect(Object.keys(ERROR_CODES).sort()).toEqual(Object.keys(ERROR_CODE_MEANINGS).sort())
    for (const meaning of Object.values(ERROR_CODE_MEANINGS)) expect(meaning).not.toBe('')
  })

  it('is documented as it is: docs/control-api.md has one row per code with its status, exit code and meaning', () => {
    const doc = readFileSync(new URL('../../docs/control-api.md', import.meta.url), 'utf8')
    const rows = [...doc.matchAll(/^\| `([A-Z_]+)` \| (\d+) \| (\d+) \| (.+) \|$/gm)].map(m => [m[1], Number(m[2]), Number(m[3]), m[4]])
    expect(rows).toEqual(Object.entries(ERROR_CODE_MEANINGS).map(([code, meaning]) => {
      const { http, exit } = ERROR_CODES[code as keyof typeof ERROR_CODES]
      return [code, http, exit, meaning]
    }))
  })

  it('parses only its own codes, never inherited names', () => {
    expect(isErrorCode('NOT_FOUND')).toBe(true)
    expect(isErrorCode('SOMETHING_NEW')).toBe(false)
    expect(isErrorCode('toString')).toBe(false)
    expect(isErrorCode('__proto__')).toBe(false)
    expect(isErrorCode(404)).toBe(false)
    expect(parseErrorCode('DISK_FULL')).toBe('DISK_FULL')
    expect(parseErrorCode('SOMETHING_NEW')).toBe('INTERNAL')
    expect(parseErrorCode(undefined)).toBe('INTERNAL')
  })

  it('gives the control API its HTTP status from the table', () => {
    expect(new HttpError('NOT_FOUND', 'x').status).toBe(404)
    expect(new HttpError('METHOD_NOT_ALLOWED', 'x', { allow: 'GET' })).toMatchObject({ status: 405, headers: { allow: 'GET' } })
    expect(new HttpError('TOO_MANY_WATCHES', 'x').status).toBe(503)
  })
})

describe('the daemon\'s error body, read by the CLI', () => {
  const body = (error: unknown): string => JSON.stringify({ error })

  it('keeps a known code and gives it its exit code', () => {
    const e = apiError(409, body({ code: 'NO_GROUP', message: 'this device is in no group' }))
    expect(e).toMatchObject({ status: 409, code: 'NO_GROUP', remoteCode: 'NO_GROUP', message: 'this device is in no group' })
    expect(exitCodeFor(e)).toBe(EXIT.error)
    expect(exitCodeFor(apiError(400, body({ code: 'INVALID_ARGUMENT', message: 'm' })))).toBe(EXIT.usage)
  })

  it('reads a code it does not know as INTERNAL (exit 1), keeping the daemon\'s code', () => {
    const e = apiError(418, body({ code: 'SOMETHING_NEW', message: 'a newer daemon said no' }))
    expect(e).toBeInstanceOf(WeftError)
    expect(e).toMatchObject({ status: 418, code: 'INTERNAL', remoteCode: 'SOMETHING_NEW', message: 'a newer daemon said no' })
    expect(exitCodeFor(e)).toBe(EXIT.error)
    expect(apiError(400, body({ code: 'toString', message: 'm' })).code).toBe('INTERNAL')
  })

  it('reads a body that is not an error body as INTERNAL with the status', () => {
    for (const text of ['', 'not json', '{}', body(null), body({ code: 7, message: 'm' }), body({ code: 'NOT_FOUND' })]) {
      expect(apiError(502, text)).toMatchObject({ status: 502, code: 'INTERNAL', remoteCode: 'INTERNAL', message: 'daemon answered 502' })
    }
  })
})

describe('a sync peer\'s Failure code', () => {
  it('reads UNKNOWN and any number this build does not know as INTERNAL, marked remote, keeping the message', () => {
    for (const code of [WireErrorCode.UNKNOWN, 99 as unknown as WireErrorCode, undefined]) {
      const e = fromWireError(code, 'from a newer peer')
      expect(e).toBeInstanceOf(InternalSyncError)
      expect(e).toMatchObject({ code: 'INTERNAL', remote: true, message: 'peer reported: from a newer peer' })
    }
    expect(fromWireError(WireErrorCode.NOT_MEMBER, 'm')).toMatchObject({ code: 'NOT_MEMBER', remote: true })
  })
})

describe('a pairing peer\'s error code', () => {
  it('reads a code number this build does not know as INTERNAL, keeping the message', () => {
    const frame = encodePairingMessage({ type: 'error', code: 'INVITE_USED', message: 'from a newer peer' })
    expect(decodePairingMessage(frame)).toEqual({ type: 'error', code: 'INVITE_USED', message: 'from a newer peer' })
    frame[1] = 200 // the code byte follows the type byte
    expect(decodePairingMessage(frame)).toEqual({ type: 'error', code: 'INTERNAL', message: 'from a newer peer' })
    frame[1] = 0 // never sent: a zeroed field
    expect(decodePairingMessage(frame)).toMatchObject({ code: 'INTERNAL' })
    expect(new PairingError('INTERNAL', 'x', { remote: true }).code).toBe('INTERNAL')
  })
})
