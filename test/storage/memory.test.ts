/** The storage contract on the in-process memory backend. */
import { MemoryStorage } from "../../src/services/storage/backends/memory.js";
import { describeStorageContract } from "./contract.js";

describeStorageContract("memory", async () => new MemoryStorage());
