/**
 * Lint rules for weft: neostandard (standard's style for TypeScript: no
 * semicolons, single quotes, a space before function parens), which the code
 * already follows, so the linter holds the style instead of restyling the repo.
 * `npm run lint` checks, `npm run format` fixes what can be fixed.
 *
 * It also holds the layering of ../shared/STYLE.md (see LAYERS below): an
 * import that crosses a boundary fails the lint, and the imports that cross
 * one today are listed by name in KNOWN_EXCEPTIONS until they are moved.
 */
import neostandard from 'neostandard'

// ---------------------------------------------------------------------------
// Import boundaries. Specifiers are matched as written (relative, with the
// .js extension NodeNext needs); the folders a rule names are unique in the
// repo, so `(../)+store/` means src/store from any depth (`lab/` and
// `test/lab/` share a name, so no rule names `lab`). Static imports and
// `export ... from` go through no-restricted-imports, dynamic `import()` with
// a literal path through no-restricted-syntax, so lazy loading cannot slip
// past a boundary.

const UP = '^(?:\\.\\./)+(?!\\.\\./)' // every leading ../ (none left for the next part to see)

/** Any import of one of our folders by name, from any depth. */
const folders = (...names) => `${UP}(?:src/)?(?:${names.join('|')})/`

/** Any import out of the importing file's folder except into the listed places (for files directly in src/<folder>/). */
const onlyInto = (...allowed) => `^\\.\\./(?!${allowed.map(a => a.endsWith('/') ? escape(a) : `${escape(a)}$`).join('|')})`

/** Packages by name (`node:` prefix optional for builtins). */
const packages = (...names) => `^(?:node:)?(?:${names.map(escape).join('|')})(?:/|$)`

function escape (s) { return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&') }

const IO_BUILTINS = ['fs', 'net', 'http', 'https', 'http2', 'dgram', 'dns', 'tls', 'child_process', 'cluster', 'worker_threads', 'os', 'readline', 'inspector']
const NETWORK_AND_DISK_PACKAGES = ['libp2p', '@libp2p', '@chainsafe', 'better-sqlite3', 'udx-native']

const CORE = 'the pure core (hlc, oplog, merge, protocol) does no I/O and imports only inward: hlc <- oplog <- merge/protocol, and ../errors.js'
const RUNTIME = 'the runtime kit (logger, config loading, key files, signals and exit codes, Prometheus text, deadlines) is a leaf both binaries share: it imports node built-ins and ../errors.js, nothing else of weft and no network or database package'
const EDGE = 'dependencies point inward: only the daemon (the composition root) and the CLI know the daemon; nothing in src/ imports the CLI, the binary (src/bin), relay/, test/ or bench/'

/** Each file is in exactly one layer (flat config replaces a rule's options, it does not merge them). */
const LAYERS = [
  { name: 'hlc', files: ['src/hlc/**/*.ts'], forbid: [[onlyInto('errors.js'), CORE], [packages(...IO_BUILTINS, ...NETWORK_AND_DISK_PACKAGES), CORE]] },
  { name: 'oplog', files: ['src/oplog/**/*.ts'], forbid: [[onlyInto('hlc/', 'errors.js'), CORE], [packages(...IO_BUILTINS, ...NETWORK_AND_DISK_PACKAGES), CORE]] },
  { name: 'merge', files: ['src/merge/**/*.ts'], forbid: [[onlyInto('hlc/', 'oplog/', 'errors.js'), CORE], [packages(...IO_BUILTINS, ...NETWORK_AND_DISK_PACKAGES), CORE]] },
  { name: 'protocol', files: ['src/protocol/**/*.ts'], forbid: [[onlyInto('hlc/', 'oplog/', 'errors.js', 'runtime/deadline.js'), CORE + '; protocol declares the store it needs (port.ts) and never imports it; of the runtime kit it uses only the pure deadline helper (runtime/deadline.js: timers, no I/O)'], [packages(...IO_BUILTINS, ...NETWORK_AND_DISK_PACKAGES), CORE]] },
  { name: 'store', files: ['src/store/**/*.ts'], forbid: [[folders('net', 'udx', 'daemon', 'cli', 'relay', 'test', 'bench'), 'the store knows hlc, oplog, merge, auth and the port protocol declares; the network is wired to it by the daemon. ' + EDGE]] },
  { name: 'net', files: ['src/net/**/*.ts'], forbid: [[folders('store', 'daemon', 'cli', 'relay', 'test', 'bench'), 'the network receives a SyncStore (protocol/port.ts), it never imports the store. ' + EDGE]] },
  { name: 'auth', files: ['src/auth/**/*.ts'], forbid: [[folders('store', 'net', 'udx', 'daemon', 'cli', 'relay', 'test', 'bench'), 'auth is used by net and store and uses neither. ' + EDGE]] },
  { name: 'udx', files: ['src/udx/**/*.ts'], forbid: [[folders('store', 'net', 'daemon', 'cli', 'relay', 'test', 'bench'), 'udx is a transport: it knows nothing of the store or the sync node. ' + EDGE]] },
  { name: 'daemon', files: ['src/daemon/**/*.ts'], forbid: [[folders('cli', 'bin', 'relay', 'test', 'bench'), 'the daemon never imports relay/ (the relay is a separate binary; shared code lives in src/) nor the CLI. ' + EDGE]] },
  {
    name: 'cli',
    files: ['src/cli/**/*.ts'],
    forbid: [
      [onlyInto('errors.js', 'polyfill.js', 'version.js', 'daemon/paths.js', 'daemon/error-codes.js', 'daemon/api-types.js', 'runtime/process.js'), 'the CLI parses, calls the control API and prints: outside src/cli it imports only errors, polyfill, version, the daemon\'s shared contract (daemon/paths.js, daemon/error-codes.js, daemon/api-types.js) and the runtime kit\'s process shell (runtime/process.js)'],
      [packages(...NETWORK_AND_DISK_PACKAGES), 'the CLI talks to the daemon over the control API; it loads no network or database code']
    ]
  },
  {
    name: 'runtime',
    files: ['src/runtime/**/*.ts'],
    forbid: [[onlyInto('errors.js'), RUNTIME], [packages(...NETWORK_AND_DISK_PACKAGES), RUNTIME]]
  },
  { name: 'src root', files: ['src/*.ts'], forbid: [['^\\.\\.?/(?:bin|daemon|cli|relay|test|bench)/', EDGE]] },
  {
    name: 'bin',
    files: ['src/bin/**/*.ts'],
    forbid: [[onlyInto('cli/main.js', 'daemon/main.js'), 'the weft binary only hands the command line to the CLI, with the daemon\'s entry point for the commands that host the daemon']]
  },
  { name: 'relay', files: ['relay/**/*.ts'], forbid: [[folders('store', 'daemon', 'cli', 'protocol', 'test', 'bench'), 'the relay is its own small binary: it never imports the store, the daemon, the CLI or the sync protocol'], [packages('better-sqlite3'), 'the relay keeps no database']] },
  { name: 'bench', files: ['bench/**/*.ts'], forbid: [[folders('test'), 'benchmarks do not import test code: what both need belongs in src/ or a shared helper outside test/']] },
  { name: 'lab', files: ['lab/**/*.ts'], forbid: [[folders('test', 'bench'), 'the NAT lab kit (namespaces, processes, probes) is shared by test/lab and bench/: it imports neither']] }
]

/**
 * Imports that cross a boundary today, allowed one by one (by file and exact
 * specifier) until the move named in `todo` lands. Anything else those files
 * import is still checked, and test/unit/import-boundaries.test.ts fails
 * when a listed import is gone, so the list only shrinks.
 */
export const KNOWN_EXCEPTIONS = [
]

/** The two rules for one set of files; `allow` takes exact specifiers out of every pattern. */
function boundaryRules (forbid, allow = []) {
  const except = allow.length === 0 ? '' : `(?!(?:${allow.map(escape).join('|')})$)`
  const patterns = forbid.map(([regex, message]) => ({ regex: `^${except}${regex.slice(1)}`, message }))
  return {
    'no-restricted-imports': ['error', { patterns }],
    'no-restricted-syntax': ['error', ...patterns.map(({ regex, message }) => ({
      selector: `ImportExpression[source.value=/${regex.replaceAll('/', '\\/')}/]`,
      message
    }))]
  }
}

function boundaryConfigs () {
  const configs = LAYERS.map(layer => ({ name: `weft/boundaries/${layer.name}`, files: layer.files, rules: boundaryRules(layer.forbid) }))
  for (const { layer: name, file, imports, todo } of KNOWN_EXCEPTIONS) {
    const layer = LAYERS.find(l => l.name === name)
    if (layer === undefined) throw new Error(`eslint.config.js: known exception ${file} names no layer ${name}`)
    configs.push({ name: `weft/boundaries/known-exception ${file} (TODO ${todo})`, files: [file], rules: boundaryRules(layer.forbid, imports) })
  }
  return configs
}

export default [
  ...neostandard({
    ts: true,
    noJsx: true,
    ignores: [
      'dist/**',
      'node_modules/**',
      // Generated by protons (`npm run generate`); `npm run check:generated` keeps them true to their .proto.
      '**/pb/*.ts',
      // A frozen copy of an older generated codec, kept to test reading newer messages.
      'test/helpers/sync-pb-before-schemas.ts'
    ]
  }),
  {
    rules: {
      // `void promise` marks a deliberate fire-and-forget call, the idiom used across the code.
      'no-void': ['error', { allowAsStatement: true }],
      // The code names executor parameters res/rej (or resolve*/reject*); the rule's point is consistency.
      'promise/param-names': ['error', { resolvePattern: '^_?(resolve\\w*|res|r)$', rejectPattern: '^_?(reject\\w*|rej)$' }],
      // Its findings were all false positives: loops that wait on a flag another function sets (`while (!stopped)`).
      'no-unmodified-loop-condition': 'off',
      // Dense option tables (the CLI's command table) keep several properties per line; rewrapping them is churn.
      '@stylistic/object-property-newline': 'off',
      // An error, so CI holds the limit. Long strings, templates, URLs and regexps are exempt: breaking them hurts grep.
      '@stylistic/max-len': ['error', { code: 160, ignoreUrls: true, ignoreStrings: true, ignoreTemplateLiterals: true, ignoreRegExpLiterals: true }]
    }
  },
  ...boundaryConfigs()
]
