/**
 * What names a resource in each storage call (the object path; both sides of a copy or move; the first message
 * of an upload), for the server's policy: see ../resources.ts. Paths are put inside a namespace before the
 * service checks them, so `..`, absolute paths and empty segments are refused by the same rules as always
 * (paths.ts) and cannot climb out of it.
 */
import type { ObjectInfo, StorageService } from "../../../gen/mikcar/storage/v1/storage_pb.js";
import type { NameView, ServiceResources } from "../resources.js";

const path = {
  names: (r: { path: string }) => [r.path],
  into: (r: { path: string }, v: NameView) => {
    r.path = v.into(r.path);
  },
};

const info = <T extends { info?: ObjectInfo }>(res: T, v: NameView): T =>
  res.info ? { ...res, info: { ...res.info, path: v.strip(res.info.path) } } : res;

const twoPaths = {
  names: (r: { source: string; destination: string }) => [r.source, r.destination],
  into: (r: { source: string; destination: string }, v: NameView) => {
    r.source = v.into(r.source);
    r.destination = v.into(r.destination);
  },
  out: info,
};

export const storageResources: ServiceResources<typeof StorageService> = {
  namespaced: true,
  methods: {
    get: { ...path, out: info },
    put: { ...path, out: info },
    head: { ...path, out: info },
    delete: path,
    copy: twoPaths,
    move: twoPaths,
    download: {
      ...path,
      out: (m, v) =>
        m.part.case === "header" && m.part.value.info
          ? {
              ...m,
              part: {
                case: "header",
                value: { ...m.part.value, info: { ...m.part.value.info, path: v.strip(m.part.value.info.path) } },
              },
            }
          : m,
    },
    // Checked per message: only the metadata message names a path.
    upload: {
      names: (m) => (m.part.case === "metadata" ? [m.part.value.path] : []),
      into: (m, v) => {
        if (m.part.case === "metadata")
          m.part = { case: "metadata", value: { ...m.part.value, path: v.into(m.part.value.path) } };
      },
      out: info,
    },
    list: {
      into: (r, v) => {
        r.prefix = v.into(r.prefix);
        if (r.cursor !== "") r.cursor = v.into(r.cursor);
      },
      out: (res, v) => {
        const objects: ObjectInfo[] = [];
        for (const o of res.objects) {
          const seen = v.out(o.path);
          if (seen !== undefined) objects.push({ ...o, path: seen });
        }
        return { ...res, objects, nextCursor: res.nextCursor === "" ? "" : v.strip(res.nextCursor) };
      },
    },
  },
};
