/** The storage contract on the S3 backend, against s3rver (a real S3-protocol server) started here. */
import { afterAll, describe } from "vitest";
import { S3Storage } from "../../src/services/storage/backends/s3.js";
import { describeStorageContract } from "./contract.js";
import { startS3rver } from "./s3rver.js";

const s3 = await startS3rver();
afterAll(() => s3?.close());

describe.runIf(s3)("s3 via s3rver", () => {
  describeStorageContract("s3", () => S3Storage.open(s3!.url()), {
    // S3 servers fill in a content type of their own when the upload gave none.
    defaultContentTypes: ["binary/octet-stream", "application/octet-stream"],
    // s3rver walks its directory tree ("a/1" before "a.txt"); AWS S3, MinIO and R2 list in UTF-8 byte order.
    unorderedListing: true,
  });
});
