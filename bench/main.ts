/** `npm run bench`: every benchmark in one run, so figures and ratios share the machine's state. */
import '../src/polyfill.js'
import { existsSync } from 'node:fs'
import { benchCore } from './core.js'

await benchCore()
const sync = new URL('./sync.js', import.meta.url)
if (existsSync(sync)) {
  const mod = await import(sync.href) as { benchSync?: () => Promise<void> }
  if (typeof mod.benchSync === 'function') await mod.benchSync()
}
