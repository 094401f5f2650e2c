/**
 * This library as its users run it: the compiled JavaScript in dist/ (`npm run build`;
 * the harness builds before it starts), not the TypeScript sources through tsx, whose
 * transform adds helper calls to every function created at run time. The types come
 * from the sources, which compile to exactly these modules.
 */
const dist = new URL('../../dist/', import.meta.url).href

export const lib = (await import(`${dist}lib/index.js`)) as typeof import('../../lib/index.js')

/** A compiled module of this library, by its path under the repository root (`stores/redis.js`). */
export const distModule = <T>(path: string): Promise<T> => import(`${dist}${path}`) as Promise<T>
