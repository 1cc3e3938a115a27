/** What names a resource in each secrets call (the secret's name), for the server's policy: see ../resources.ts. */
import type { SecretInfo, SecretsService } from "../../../gen/mikcar/secrets/v1/secrets_pb.js";
import type { NameView, ServiceResources } from "../resources.js";

const named = {
  names: (r: { name: string }) => [r.name],
  into: (r: { name: string }, v: NameView) => {
    r.name = v.into(r.name);
  },
};

export const secretsResources: ServiceResources<typeof SecretsService> = {
  namespaced: true,
  methods: {
    get: named,
    create: named,
    update: named,
    delete: named,
    exists: named,
    list: {
      into: (r, v) => {
        r.prefix = v.into(r.prefix);
      },
      out: (res, v) => {
        const secrets: SecretInfo[] = [];
        for (const s of res.secrets) {
          const seen = v.out(s.name);
          if (seen !== undefined) secrets.push({ ...s, name: seen });
        }
        return { ...res, secrets };
      },
    },
  },
};
