export { SessionManager, type SessionContext, type SessionManagerEvents } from './manager.js'
export { Session, type SessionStatus, type Change } from './session.js'
export type { SessionInfo } from './users.js'
export type {
  SessionManagerOptions,
  CookieOptions,
  Transport,
  Logger,
  ErrorHandler,
  ResolvedConfig,
} from './config.js'
export type { CommitResult } from './lifecycle.js'
export {
  type CreatedEvent,
  type CommittedEvent,
  type RenewedEvent,
  type DestroyedEvent,
  type RevokedEvent,
  type LoggedInEvent,
  type ExpiredEvent,
  type ConflictEvent,
  type CorruptEvent,
  type SessionEventName,
  type StoreCallContext,
  type CommitContext,
  eventChannels,
  storeChannel,
  commitChannel,
} from './events.js'
export type { NodeHandler, NodeListener } from './node/serve.js'
export {
  type Store,
  type VersionedStore,
  type VersionedEntry,
  type CommitOptions,
  type TouchStore,
  type UserIndexStore,
  type SealingStore,
  type BatchStore,
  type FoundEntry,
  isSealing,
  isVersioned,
  canTouch,
  hasUserIndex,
  canWatchExpiry,
  type ExpiryWatchStore,
  type WatchExpiryOptions,
  canIterate,
  canBatch,
  storeName,
} from './store.js'
export { type Codec, type SessionRecord, jsonCodec } from './codec.js'
export {
  SessionError,
  ConfigError,
  StoreError,
  CodecError,
  TooLargeError,
  SchemaError,
  SessionLimitError,
  type SessionErrorCode,
  type SessionManagerError,
} from './errors.js'
export { generateToken, isToken, hashToken, secureRandom, TOKEN_LENGTH } from './token.js'
export { readCookies, serializeCookie, expireCookie, type CookieAttributes } from './cookie.js'
export { parseDuration } from './duration.js'
export { Signer, type SigningKey } from './signing.js'
export {
  type RequestInfo,
  type SessionHeaders,
  type HeaderTarget,
  NO_HEADERS,
  isSecure,
  mergeSessionHeaders,
} from './transport.js'
export { MemoryStore, type MemoryStoreOptions } from '../stores/memory.js'
export { CompatSession, type CompatFlavour } from './compat.js'
export { CsrfError, CSRF_KEY, isUnsafeMethod, offeredCsrf } from './csrf.js'
export { carryOver, connectRedisSource, loaderSource, type CarryOver, type CarryOverOptions, type GetDelClient, type LegacySource } from './carry.js'
