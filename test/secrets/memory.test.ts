import { MemorySecrets } from "../../src/services/secrets/backends/memory.js";
import { describeSecretsContract } from "./contract.js";

describeSecretsContract("memory", async () => new MemorySecrets());
