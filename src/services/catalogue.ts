/** Every service the sidecar can run, in the order they are listed in help and health. */
import { kvModule } from "./kv/index.js";
import type { ServiceModule } from "./module.js";
import { queueModule } from "./queue/index.js";

export const serviceModules: readonly ServiceModule[] = [kvModule, queueModule];

export function findModule(name: string): ServiceModule | undefined {
  return serviceModules.find((m) => m.name === name);
}
