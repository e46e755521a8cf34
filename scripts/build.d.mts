/** Types of scripts/build.mjs for the tests that import it. */
export declare const ROOT: string
/** Why a build of the project at `root` is needed, or null when its dist/ is up to date. */
export declare function staleReason (root?: string): string | null
export declare function startBuild (): { child: import('node:child_process').ChildProcess, done: Promise<number | null> }
