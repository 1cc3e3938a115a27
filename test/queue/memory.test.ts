import { MemoryQueue } from "../../src/services/queue/backends/memory.js";
import { describeQueueContract } from "./contract.js";

describeQueueContract("memory", async (opts) => new MemoryQueue(opts));
