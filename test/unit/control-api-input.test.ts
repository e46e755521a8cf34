/**
 * The control API's and the CLI's input checks as pure functions: request
 * targets, body nesting, base64 for bytes, the error-code table, negative
 * numbers on the command line, and quoting in systemd units. The same paths
 * run end to end in test/e2e/control-api.test.ts.
 */
import { describe, expect, it } from 'vitest'
import { jsonDepth, MAX_BODY_DEPTH, parseTarget } from '../../src/daemon/api-request.js'
import { ERROR_CODES, EXIT, outcomeFor } from '../../src/daemon/error-codes.js'
import { parseErrorCode } from '../../src/errors.js'
import { decodeBase64, fromJson, toJson } from '../../src/daemon/json-values.js'
import { parseCommandLine } from '../../src/cli/args.js'
import { systemdWord } from '../../src/cli/service.js'

const badRequest = (message: RegExp): unknown => expect.objectContaining({ status: 400, code: 'BAD_REQUEST', message: expect.stringMatching(message) })

describe('request targets', () => {
  it('decodes path segments and keeps empty ones, so no name is skipped', () => {
    expect(parseTarget('/v1/data/notes/k').path).toEqual(['v1', 'data', 'notes', 'k'])
    expect(parseTarget('/v1/data//k').path).toEqual(['v1', 'data', '', 'k'])
    expect(parseTarget('/v1/data/a%2Fb/%E2%9C%93').path).toEqual(['v1', 'data', 'a/b', '✓'])
    expect(parseTarget('/').path).toEqual([''])
    expect(parseTarget('/v1/data//k').rawPath).toBe('/v1/data//k')
  })

  it('refuses a lone % and escapes of invalid UTF-8, naming the segment', () => {
    expect(() => parseTarget('/v1/data/%/k')).toThrow(badRequest(/path segment "%" has a "%" that is not followed by two hex digits/))
    expect(() => parseTarget('/v1/data/a%zz')).toThrow(badRequest(/"a%zz"/))
    expect(() => parseTarget('/v1/data/%ED%A0%80/k')).toThrow(badRequest(/path segment "%ED%A0%80" does not decode to UTF-8 text/))
    expect(() => parseTarget('/v1/data/%FF')).toThrow(badRequest(/does not decode/))
  })

  it('decodes the query strictly too', () => {
    const q = parseTarget('/v1/oplog?collection=a+b%21&limit=5&flag').query
    expect([...q]).toEqual([['collection', 'a b!'], ['limit', '5'], ['flag', '']])
    expect(() => parseTarget('/v1/oplog?collection=%ED%A0%80')).toThrow(badRequest(/query parameter "collection" "%ED%A0%80"/))
    expect(() => parseTarget('/v1/oplog?%=1')).toThrow(badRequest(/query parameter "%"/))
  })

  it('refuses a target that is not a path', () => {
    expect(() => parseTarget('http://weft/v1/status')).toThrow(badRequest(/not a path/))
    expect(() => parseTarget('*')).toThrow(badRequest(/not a path/))
  })
})

describe('body nesting', () => {
  const depth = (s: string, limit?: number): number => jsonDepth(Buffer.from(s), limit)
  it('counts arrays and objects, not brackets inside strings', () => {
    expect(depth('1')).toBe(0)
    expect(depth('{"a":[1,{"b":[]}]}')).toBe(4)
    expect(depth('{"a":"[[[[{{{{"}')).toBe(1)
    expect(depth('["\\"[[[", "\\\\", [[]]]')).toBe(3)
    expect(depth('{"ключ":["✓",[{}]]}')).toBe(4)
  })

  it('stops counting past the limit, so a 200k-deep body costs one pass', () => {
    const deep = '['.repeat(200_000) + ']'.repeat(200_000)
    expect(depth(deep, MAX_BODY_DEPTH)).toBe(MAX_BODY_DEPTH + 1)
    expect(depth(deep)).toBe(200_000)
  })
})

describe('bytes over JSON', () => {
  it('round-trips bytes', () => {
    const bytes = new Uint8Array([0, 1, 2, 250, 255])
    expect(fromJson(toJson({ b: bytes }))).toEqual({ b: bytes })
    expect(decodeBase64('', 'x')).toEqual(new Uint8Array())
  })

  it('refuses base64 that Node would decode leniently into other bytes', () => {
    const invalid = (m: RegExp): unknown => expect.objectContaining({ code: 'INVALID_ARGUMENT', message: expect.stringMatching(m) })
    expect(() => fromJson({ photo: { $bytes: '!!!notbase64' } }, 'fields')).toThrow(invalid(/fields\.photo\.\$bytes is not valid base64 .*"!" at position 1/))
    expect(() => fromJson({ $bytes: 'AQI' })).toThrow(invalid(/not a multiple of 4/))
    expect(() => fromJson({ $bytes: 'AQ I=' })).toThrow(invalid(/" " at position 3/))
    expect(() => fromJson({ $bytes: 'AQJ=' })).toThrow(invalid(/padding or last character/)) // stray bits
    expect(() => fromJson({ $bytes: 'AQ-_' })).toThrow(invalid(/"-"/)) // base64url is not what toJson sends
    expect(() => fromJson([{ $bytes: 42 }], 'element')).toThrow(invalid(/element\[0\]\.\$bytes must be a base64 string, got number/))
  })
})

describe('error codes', () => {
  it('map to HTTP statuses and exit codes in one table', () => {
    expect(outcomeFor('INVALID_ARGUMENT')).toEqual({ http: 400, exit: EXIT.usage })
    expect(outcomeFor('INVALID_INVITE_CODE')).toEqual({ http: 400, exit: EXIT.usage })
    expect(outcomeFor('BAD_CONFIG').exit).toBe(EXIT.usage)
    expect(outcomeFor('NOT_FOUND')).toEqual({ http: 404, exit: EXIT.error })
    expect(outcomeFor('DAEMON_NOT_RUNNING').exit).toBe(EXIT.daemonDown)
    // A code from elsewhere is parsed into the union first (test/unit/error-codes.test.ts).
    expect(outcomeFor(parseErrorCode('SOMETHING_NEW'))).toEqual({ http: 500, exit: EXIT.error })
    expect(outcomeFor(parseErrorCode('toString'))).toEqual({ http: 500, exit: EXIT.error }) // not inherited from Object
    for (const o of Object.values(ERROR_CODES)) expect(Object.values(EXIT)).toContain(o.exit)
  })
})

describe('command-line values', () => {
  const opts = { limit: { type: 'string' as const }, verbose: { type: 'boolean' as const, short: 'v' } }
  it('reads negative numbers as values, not options', () => {
    expect(parseCommandLine(['c', 'k', 'n', '-1'], opts, 'u').positionals).toEqual(['c', 'k', 'n', '-1'])
    expect(parseCommandLine(['-2.5', '-.5', 'x'], opts, 'u').positionals).toEqual(['-2.5', '-.5', 'x'])
    expect(parseCommandLine(['--limit', '-5'], opts, 'u').values.limit).toBe('-5')
    expect(parseCommandLine(['-v', 'a'], opts, 'u')).toEqual({ values: { verbose: true }, positionals: ['a'] })
  })

  it('still refuses unknown options, with the usage', () => {
    expect(() => parseCommandLine(['-x'], opts, 'weft thing')).toThrow(expect.objectContaining({ code: 'USAGE', message: expect.stringMatching(/Unknown option '-x'[\s\S]*usage: weft thing/) }))
  })
})

describe('systemd unit words', () => {
  it('quotes what systemd would split or expand', () => {
    expect(systemdWord('/usr/bin/node')).toBe('/usr/bin/node')
    expect(systemdWord('/opt/my weft/main.js')).toBe('"/opt/my weft/main.js"')
    expect(systemdWord('/data/100%')).toBe('/data/100%%')
    expect(systemdWord('/data/$HOME')).toBe('"/data/$$HOME"')
    expect(systemdWord('a"b\\c')).toBe('"a\\"b\\\\c"')
    expect(systemdWord('X=/a $b', { command: false })).toBe('"X=/a $b"')
    expect(() => systemdWord('a\nb')).toThrow(/line break/)
  })
})
