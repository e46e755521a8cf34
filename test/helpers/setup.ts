// Loaded before every test file, as every entry point loads it first.
import '../../src/polyfill.js'
