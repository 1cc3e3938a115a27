/** Storage options and URLs: sizes, idle timeout, schemes and S3 URL parsing, with messages naming the flag. */
import { describe, expect, it } from "vitest";
import { parseS3Url } from "../../src/services/storage/backends/s3.js";
import { openService } from "../../src/services/module.js";
import { storageModule } from "../../src/services/storage/index.js";
import { openStorageBackend } from "../../src/services/storage/registry.js";
import { parseOption } from "../../src/shared/option-spec.js";
import { parseDuration, parseSize } from "../../src/shared/units.js";
import { createLogger } from "../../src/shared/log.js";

describe("storage options", () => {
  it("parses sizes and seconds", () => {
    expect(parseSize("5GiB", "x")).toBe(5 * 1024 ** 3);
    expect(parseSize("512 MB", "x")).toBe(512e6);
    expect(parseSize("1048576", "x")).toBe(1048576);
    expect(() => parseSize("lots", "--storage-max-object-size")).toThrow(/--storage-max-object-size must be a size/);
    expect(() => parseOption(storageModule.options!["max-object-size"]!, "0", "x")).toThrow(/at least 1B/);
    expect(parseDuration("0.5", "x")).toBe(500);
    expect(() => parseDuration("-1", "--storage-idle-timeout")).toThrow(/--storage-idle-timeout/);
  });

  it("refuses a bad option value when the service opens", async () => {
    const ctx = { log: createLogger("silent"), limits: { maxBodyBytes: 1 << 20, requestTimeoutMs: 30_000 } };
    await expect(
      openService(storageModule, "memory://", { ...ctx, options: { "max-object-size": "huge" } }),
    ).rejects.toThrow(/max-object-size/);
    const ok = await openService(storageModule, "memory://", { ...ctx, options: {} });
    expect(ok.backend).toBe("memory");
    await ok.close();
  });

  it("names the accepted schemes for an unknown one", async () => {
    await expect(openStorageBackend("gcs://bucket")).rejects.toThrow(/memory:\/\/, file:\/\/, s3:\/\//);
  });

  it("reads endpoint, region, path style and credentials from an s3 URL", () => {
    const loc = parseS3Url(
      "s3://my-bucket?endpoint=http%3A%2F%2F127.0.0.1%3A9000&region=eu-west-1&force_path_style=true&access_key_id=AK&secret_access_key=SK",
    );
    expect(loc.bucket).toBe("my-bucket");
    expect(loc.config).toMatchObject({
      endpoint: "http://127.0.0.1:9000",
      region: "eu-west-1",
      forcePathStyle: true,
      credentials: { accessKeyId: "AK", secretAccessKey: "SK" },
    });
    expect(parseS3Url("s3://b").config.credentials).toBeUndefined();
    expect(() => parseS3Url("s3://b?access_key_id=AK")).toThrow(/both/);
  });
});
