/** Every service the sidecar can run, in the order they are listed in help and health. */
import { emailModule } from "./email/index.js";
import { kvModule } from "./kv/index.js";
import type { ServiceModule } from "./module.js";
import { queueModule } from "./queue/index.js";
import { secretsModule } from "./secrets/index.js";
import { sqlModule } from "./sql/index.js";
import { storageModule } from "./storage/index.js";

export const serviceModules: readonly ServiceModule[] = [
  storageModule,
  kvModule,
  sqlModule,
  queueModule,
  secretsModule,
  emailModule,
];

export function findModule(name: string): ServiceModule | undefined {
  return serviceModules.find((m) => m.name === name);
}
