/**
 * A loopback stand-in for AWS Secrets Manager's JSON protocol (POST /, `X-Amz-Target: secretsmanager.<Op>`,
 * `application/x-amz-json-1.1`), limited to the operations the aws-sm backend calls. Errors are 400 with
 * `{"__type","message"}` and `x-amzn-ErrorType`, dates are epoch seconds, version ids are the client request
 * tokens the SDK generates — as AWS documents. Requests must be SigV4-signed with the test access key; the
 * signature itself is not verified.
 */
import { randomUUID } from "node:crypto";
import { startFake, type FakeServer } from "./http-fake.js";

interface Stored {
  arn: string;
  created: number;
  changed: number;
  tags: Array<{ Key: string; Value: string }>;
  versions: Map<string, { value: string; created: number }>;
  current: string;
}

const fail = (type: string, message: string) => ({
  status: 400,
  json: { __type: type, message },
  headers: { "x-amzn-errortype": type },
});
const notFound = () => fail("ResourceNotFoundException", "Secrets Manager can't find the specified secret.");

export async function startAwsSmFake(accessKeyId: string): Promise<FakeServer> {
  const secrets = new Map<string, Stored>();
  const now = () => Date.now() / 1000;
  return startFake((req, body) => {
    const auth = String(req.headers.authorization ?? "");
    if (!auth.startsWith(`AWS4-HMAC-SHA256 Credential=${accessKeyId}/`)) {
      return fail("UnrecognizedClientException", "The security token included in the request is invalid.");
    }
    const op = String(req.headers["x-amz-target"] ?? "").replace(/^secretsmanager\./, "");
    const input = JSON.parse(body || "{}") as Record<string, any>;
    const s = secrets.get(input.SecretId ?? input.Name);
    switch (op) {
      case "CreateSecret": {
        if (secrets.has(input.Name))
          return fail(
            "ResourceExistsException",
            `The operation failed because the secret ${input.Name} already exists.`,
          );
        const id = input.ClientRequestToken ?? randomUUID();
        const t = now();
        const arn = `arn:aws:secretsmanager:us-east-1:000000000000:secret:${input.Name}-AbCdEf`;
        secrets.set(input.Name, {
          arn,
          created: t,
          changed: t,
          tags: input.Tags ?? [],
          versions: new Map([[id, { value: input.SecretString, created: t }]]),
          current: id,
        });
        return { status: 200, json: { ARN: arn, Name: input.Name, VersionId: id } };
      }
      case "GetSecretValue": {
        if (!s) return notFound();
        const id = input.VersionId ?? s.current;
        const v = s.versions.get(id);
        if (!v)
          return fail(
            "ResourceNotFoundException",
            `Secrets Manager can't find the specified secret value for VersionId: ${id}`,
          );
        return {
          status: 200,
          json: {
            ARN: s.arn,
            Name: input.SecretId,
            VersionId: id,
            SecretString: v.value,
            VersionStages: id === s.current ? ["AWSCURRENT"] : ["AWSPREVIOUS"],
            CreatedDate: v.created,
          },
        };
      }
      case "DescribeSecret":
        if (!s) return notFound();
        return {
          status: 200,
          json: {
            ARN: s.arn,
            Name: input.SecretId,
            CreatedDate: s.created,
            LastChangedDate: s.changed,
            Tags: s.tags,
            VersionIdsToStages: { [s.current]: ["AWSCURRENT"] },
          },
        };
      case "PutSecretValue": {
        if (!s) return notFound();
        const id = input.ClientRequestToken ?? randomUUID();
        s.changed = now();
        s.versions.set(id, { value: input.SecretString, created: s.changed });
        s.current = id;
        return {
          status: 200,
          json: { ARN: s.arn, Name: input.SecretId, VersionId: id, VersionStages: ["AWSCURRENT"] },
        };
      }
      case "DeleteSecret":
        if (!s) return notFound();
        secrets.delete(input.SecretId);
        return { status: 200, json: { ARN: s.arn, Name: input.SecretId, DeletionDate: now() } };
      case "ListSecrets": {
        const prefix: string = input.Filters?.find((f: { Key: string }) => f.Key === "name")?.Values?.[0] ?? "";
        const names = [...secrets.keys()].filter((n) => n.startsWith(prefix)).sort();
        const start = input.NextToken ? Number(input.NextToken) : 0;
        const max = input.MaxResults ?? 100;
        const page = names.slice(start, start + max).map((n) => {
          const x = secrets.get(n)!;
          return {
            ARN: x.arn,
            Name: n,
            CreatedDate: x.created,
            LastChangedDate: x.changed,
            Tags: x.tags,
            SecretVersionsToStages: { [x.current]: ["AWSCURRENT"] },
          };
        });
        return {
          status: 200,
          json: { SecretList: page, ...(start + max < names.length ? { NextToken: String(start + max) } : {}) },
        };
      }
      default:
        return fail("UnknownOperationException", `unknown operation ${op}`);
    }
  });
}
