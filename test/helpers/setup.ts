// Loaded before every test file, as every entry point loads it first.
import '../../src/polyfill.js'
import fc from 'fast-check'

// A property runs synchronously, so vitest's test timeout cannot stop it: a
// slow property, or a long shrink of a failure, would hold its worker for
// good. Past this limit fast-check stops (a failure found so far is still
// reported, with the counterexample shrunk that far).
fc.configureGlobal({ interruptAfterTimeLimit: 45_000 })
