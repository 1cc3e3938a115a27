/**
 * SQL names no resources; the policy grants methods. A caller allowed `Query` but none of the methods that
 * write runs its queries read-only (the context value below), so a write smuggled into a query
 * (`WITH … DELETE … RETURNING`, a function with side effects) is refused by the database, not merely unlisted.
 */
import { createContextKey } from "@connectrpc/connect";
import type { SqlService } from "../../../gen/mikcar/sql/v1/sql_pb.js";
import type { ServiceResources } from "../resources.js";

/** Set to true on a call's context values to run that call's statements read-only. */
export const SQL_READ_ONLY = createContextKey<boolean>(false, { description: "mikcar sql read-only call" });

export const sqlResources: ServiceResources<typeof SqlService> = {
  namespaced: false,
  methods: {},
  readOnly: { methods: ["Query"], unless: ["Execute", "Batch", "Script"], key: SQL_READ_ONLY },
};
