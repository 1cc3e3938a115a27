/** Library entry point: build a sidecar in code, or reuse its pieces. */
export { createSidecar, type SidecarOptions } from "./sidecar.js";
export { createSidecarServer, DEFAULT_LIMITS, type Sidecar, type SidecarConfig } from "./server/sidecar.js";
export type { ListenAddress } from "./server/listener.js";
export { serviceModules } from "./services/catalogue.js";
export type { ServiceModule, ServiceInstance, ServerLimits } from "./services/module.js";
export { ErrorKinds, SidecarError, sidecarError } from "./errors.js";
export { createLogger, type Logger } from "./log.js";
export { kvInstance } from "./services/kv/index.js";
export type { KvBackend } from "./services/kv/backend.js";
export { secretsInstance } from "./services/secrets/index.js";
export type { SecretsBackend } from "./services/secrets/backend.js";
export { emailInstance } from "./services/email/index.js";
export type { EmailBackend } from "./services/email/backend.js";
export { sqlInstance, sqlSettings, type SqlSettings } from "./services/sql/index.js";
export type { SqlBackend, SqlValue } from "./services/sql/backend.js";
export { storageInstance } from "./services/storage/index.js";
export type { StorageBackend, ObjectMeta, ObjectReader } from "./services/storage/backend.js";
