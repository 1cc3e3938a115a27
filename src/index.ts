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
export { queueInstance } from "./services/queue/index.js";
export type { QueueBackend } from "./services/queue/backend.js";
