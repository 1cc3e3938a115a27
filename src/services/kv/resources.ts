/** What names a resource in each KV call (the key), for the server's policy: see ../resources.ts. */
import type { KvService } from "../../../gen/mikcar/kv/v1/kv_pb.js";
import type { NameView, ServiceResources } from "../resources.js";

const key = {
  names: (r: { key: string }) => [r.key],
  into: (r: { key: string }, v: NameView) => {
    r.key = v.into(r.key);
  },
};

export const kvResources: ServiceResources<typeof KvService> = {
  namespaced: true,
  methods: {
    get: key,
    set: key,
    delete: key,
    increment: key,
    exists: key,
    ttl: key,
    expire: key,
    getBatch: {
      names: (r) => r.keys,
      into: (r, v) => {
        r.keys = r.keys.map((k) => v.into(k));
      },
      out: (res, v) => {
        const values: Record<string, Uint8Array> = {};
        for (const [k, val] of Object.entries(res.values)) values[v.strip(k)] = val;
        return { ...res, values };
      },
    },
    setBatch: {
      names: (r) => Object.keys(r.values),
      into: (r, v) => {
        const values: Record<string, Uint8Array> = {};
        for (const [k, val] of Object.entries(r.values)) values[v.into(k)] = val;
        r.values = values;
      },
    },
    keys: {
      // The caller's pattern is matched inside its namespace; a namespace is plain text (no glob characters,
      // checked when the policy is loaded), so the caller's pattern cannot reach outside it.
      into: (r, v) => {
        r.pattern = v.into(r.pattern);
        if (r.cursor !== "") r.cursor = v.into(r.cursor);
      },
      out: (res, v) => {
        const keys: string[] = [];
        for (const k of res.keys) {
          const seen = v.out(k);
          if (seen !== undefined) keys.push(seen);
        }
        // The cursor is the last key of the page even when that key is filtered out, so paging goes on.
        return { ...res, keys, nextCursor: res.nextCursor === "" ? "" : v.strip(res.nextCursor) };
      },
    },
    watch: {
      longLived: true,
      into: (r, v) => {
        r.prefix = v.into(r.prefix);
      },
      out: (ev, v) => {
        const seen = v.out(ev.key);
        return seen === undefined ? undefined : { ...ev, key: seen };
      },
    },
  },
};
