/**
 * The Store contract. A store persists opaque session bytes under a key until an
 * expiry; the manager owns everything else (tokens, encoding, lifetimes, cookies).
 *
 * Keys arrive already prefixed (and, by default, hashed): a store never needs to
 * know about tokens. Data is binary; a store must give back exactly the bytes it was
 * given. All methods may reject; the manager wraps the rejection in a `StoreError`.
 *
 * @example A minimal store (last-write-wins, no optional capabilities)
 * ```ts
 * const map = new Map<string, { data: Uint8Array; expiry: number }>()
 * const store: Store = {
 *   async find(key) {
 *     const hit = map.get(key)
 *     return hit && hit.expiry > Date.now() ? hit.data : undefined
 *   },
 *   async commit(key, data, expiry) { map.set(key, { data, expiry: expiry.getTime() }) },
 *   async delete(key) { map.delete(key) },
 * }
 * ```
 */
export interface Store {
  /** The bytes stored under `key`, or `undefined` when missing or expired. */
  find(key: string): Promise<Uint8Array | undefined>
  /** Store `data` under `key` until `expiry`, replacing whatever was there. */
  commit(key: string, data: Uint8Array, expiry: Date): Promise<void>
  /** Remove `key`. Deleting a missing key is not an error. */
  delete(key: string): Promise<void>
  /**
   * Every live entry whose key starts with `prefix`, streamed (never the whole
   * keyspace in memory). Optional: without it `manager.iterate` is refused.
   */
  all?(prefix: string): AsyncIterable<[key: string, data: Uint8Array]>
  /** Release timers and resources the store itself created (never the user's client). */
  close?(): Promise<void>
  /** Name used in errors and logs; defaults to the constructor's name. */
  readonly name?: string
}

/** What `findVersioned` returns for a live entry. */
export interface VersionedEntry {
  data: Uint8Array
  /** Opaque version; changes on every successful commit (not on `touch`). */
  version: string
  /** The entry's current expiry, when the store knows it (it makes `touch` decisions exact). */
  expiry?: Date
}

/**
 * Optimistic concurrency: the capability behind "no lost updates".
 */
export interface VersionedStore extends Store {
  /** Like `find`, with the entry's version (and expiry when known). */
  findVersioned(key: string): Promise<VersionedEntry | undefined>
  /**
   * Commit only if the entry's current version is `version`; when `version` is
   * `undefined`, commit only if no live entry exists. Resolves to the new version, or
   * `null` on conflict (the entry was changed, deleted or created meanwhile) — in which
   * case nothing was written. `options` says what kind of entry it is (a store may
   * ignore it).
   */
  commitIfVersion(
    key: string,
    data: Uint8Array,
    expiry: Date,
    version: string | undefined,
    options?: CommitOptions,
  ): Promise<string | null>
}

/** What the manager tells a versioned store about an entry it commits. */
export interface CommitOptions {
  /**
   * The entry is a renewal's forward (the old key of a renewed session, pointing at its
   * new one), not a session: a store with `watchExpiry` must not report its expiry as a
   * session's. Stores without `watchExpiry` ignore it.
   */
  forward?: boolean
}

/** Cheap idle extension: move the expiry without rewriting the data or the version. */
export interface TouchStore extends Store {
  /** Set the expiry of a live entry; a missing entry stays missing. */
  touch(key: string, expiry: Date): Promise<void>
}

/**
 * The user index: which sessions belong to which user, for "log out everywhere".
 * `user` is an opaque string the manager has already scoped by its prefix.
 */
export interface UserIndexStore extends Store {
  /**
   * Record that session `key` belongs to `user` until `expiry` (the session's absolute
   * deadline). The session entry itself is committed before this is called.
   */
  addToUser(user: string, key: string, expiry: Date): Promise<void>
  /**
   * Keys of the user's sessions. Every live one is listed; entries past their expiry
   * are pruned and not listed. A key deleted without `removeFromUser` may still be
   * listed (callers check that the session exists).
   */
  listUser(user: string): Promise<string[]>
  /** Forget that `key` belongs to `user`; missing entries are not an error. */
  removeFromUser(user: string, key: string): Promise<void>
}

/** What `findMany` returns for a live entry: its data, and version and expiry when the store has them. */
export interface FoundEntry {
  data: Uint8Array
  /** As `findVersioned` would give it (a versioned store gives it). */
  version?: string | undefined
  /** The entry's current expiry, when the store knows it. */
  expiry?: Date | undefined
}

/**
 * Batched reads and deletes, for users with many sessions: `sessionsOf` reads all of a
 * user's sessions with one `findMany`, and `revokeUser` (or a session limit) deletes
 * them with one `deleteMany`, each a bounded number of round trips however many keys
 * there are (the store splits them into chunks it can send at once). Without it the
 * manager falls back to `find` and `delete` per key.
 */
export interface BatchStore extends Store {
  /**
   * The entries under `keys`, in the same order: `undefined` where a key is missing or
   * expired (exactly what `findVersioned`, or `find`, would answer for it). Any number
   * of keys, duplicates included; an empty list costs nothing.
   */
  findMany(keys: readonly string[]): Promise<Array<FoundEntry | undefined>>
  /**
   * Delete every key of `keys` (missing ones are not an error). With `user` (a store
   * with a user index), they are also forgotten in that user's index, as
   * `removeFromUser` would do for each. Any number of keys; an empty list costs nothing.
   */
  deleteMany(keys: readonly string[], user?: string): Promise<void>
}

/**
 * A store whose "token" is the sealed session itself (the cookie store): nothing is
 * kept server-side. The manager seals on commit and opens on load instead of calling
 * find/commit, skips the random-token shape check, and leaves size, tamper and expiry
 * checks to the seal.
 */
export interface SealingStore extends Store {
  readonly sealing: true
  /** Seal `data` until `expiry` into a cookie-safe string. */
  seal(data: Uint8Array, expiry: Date): Promise<string>
  /** The data sealed in `value`; undefined when tampered, expired or sealed with an unknown key. */
  open(value: string): Promise<Uint8Array | undefined>
}

/** True when `store` is a {@link SealingStore}. */
export function isSealing(store: Store): store is SealingStore {
  const s = store as Partial<SealingStore>
  return s.sealing === true && typeof s.seal === 'function' && typeof s.open === 'function'
}

/** True when `store` implements `findVersioned` and `commitIfVersion`. */
export function isVersioned(store: Store): store is VersionedStore {
  const s = store as Partial<VersionedStore>
  return typeof s.findVersioned === 'function' && typeof s.commitIfVersion === 'function'
}

/** True when `store` implements `touch`. */
export function canTouch(store: Store): store is TouchStore {
  return typeof (store as Partial<TouchStore>).touch === 'function'
}

/** True when `store` implements the user index. */
export function hasUserIndex(store: Store): store is UserIndexStore {
  const s = store as Partial<UserIndexStore>
  return (
    typeof s.addToUser === 'function' &&
    typeof s.listUser === 'function' &&
    typeof s.removeFromUser === 'function'
  )
}

/** True when `store` implements `findMany` and `deleteMany`. */
export function canBatch(store: Store): store is BatchStore {
  const s = store as Partial<BatchStore>
  return typeof s.findMany === 'function' && typeof s.deleteMany === 'function'
}

/** True when `store` can list its entries (`all`). */
export function canIterate(
  store: Store,
): store is Store & Required<Pick<Store, 'all'>> {
  return typeof store.all === 'function'
}

/** The name a store goes by in errors. */
export function storeName(store: Store): string {
  return store.name ?? store.constructor?.name ?? 'Store'
}

/** Options of {@link ExpiryWatchStore.watchExpiry}. */
export interface WatchExpiryOptions {
  /** Called with failures of the watch connection (it reconnects on its own). */
  onError?: (err: unknown) => void
  /**
   * Let the store change server settings the events need (Redis: add `Ex` to
   * `notify-keyspace-events` by CONFIG SET, never removing a flag). Default false: the
   * store only checks them and refuses with a `ConfigError`. Stores without such
   * settings ignore it.
   */
  configure?: boolean
}

/**
 * Store-side expiry events: the store tells when one of its sessions expired, even
 * when nobody requests it (Redis keyspace notifications, an etcd watch).
 */
export interface ExpiryWatchStore extends Store {
  /**
   * Call `onExpired(key)` for each session key starting with `prefix` that the store
   * expires from now on. Resolves once watching, to the function that stops it.
   */
  watchExpiry(prefix: string, onExpired: (key: string) => void, options?: WatchExpiryOptions): Promise<() => Promise<void>>
}

/** True when `store` implements `watchExpiry`. */
export function canWatchExpiry(store: Store): store is ExpiryWatchStore {
  return typeof (store as Partial<ExpiryWatchStore>).watchExpiry === 'function'
}
