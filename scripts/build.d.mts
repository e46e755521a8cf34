/** Types of scripts/build.mjs for the tests that import it. */
export declare const ROOT: string
/** Why a build of the project at `root` is needed, or null when its dist/ is up to date. */
export declare function staleReason (root?: string): string | null
export declare function startBuild (): { child: import('node:child_process').ChildProcess, done: Promise<number | null> }
/** The `weft` binary users run, relative to the project root. */
export declare const CLI_BUNDLE: string
/** Bundles the project at `root`'s tsc output of the `weft` binary into CLI_BUNDLE; rejects when it would carry or import what it must not. */
export declare function bundleCli (root?: string): Promise<void>
