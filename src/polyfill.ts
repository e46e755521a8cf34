/**
 * Node 20 lacks `Promise.withResolvers` (added in Node 22), yet libp2p 3,
 * @libp2p/utils 7, yamux 8, it-queue, mortice and @libp2p/ping call it at run
 * time without declaring a Node version. Every entry point imports this module
 * first. It defines the method only when missing, so newer Nodes are untouched.
 */
interface Resolvers<T> {
  promise: Promise<T>
  resolve: (value: T | PromiseLike<T>) => void
  reject: (reason?: unknown) => void
}

const P = Promise as unknown as { withResolvers?: <T>() => Resolvers<T> }

if (typeof P.withResolvers !== 'function') {
  P.withResolvers = function withResolvers<T> (): Resolvers<T> {
    let resolve!: (value: T | PromiseLike<T>) => void
    let reject!: (reason?: unknown) => void
    const promise = new Promise<T>((res, rej) => { resolve = res; reject = rej })
    return { promise, resolve, reject }
  }
}

export {}
