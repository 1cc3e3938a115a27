/** The tests' loopback Vault (KV v1/v2 HTTP API) in its own process for the secrets bench; token `bench`. */
import { startVaultFake } from "../../test/secrets/fakes/vault-server.js";

const vault = await startVaultFake({ token: "bench" });
console.log(`listening ${vault.port}`);
process.once("SIGTERM", () => void vault.stop().finally(() => process.exit(0)));
