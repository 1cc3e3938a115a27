/**
 * The guarded implementation of a service: the same ServiceImpl wrapped once, so that the REST rows and the RPC
 * router (which are both handed this wrapper) enforce the same thing from one place. Per call it authorises the
 * method and the names the request carries (authorize.ts), moves the request into the caller's namespace and
 * the reply (or each streamed message) out of it, runs SQL read-only for Query-only callers, holds a slot of the
 * service's concurrency cap, and notes what it saw for the access log.
 */
import type { DescMethod, DescService } from "@bufbuild/protobuf";
import { ConnectError, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import { SidecarError, sidecarError } from "../../shared/errors.js";
import type { ServiceInstance } from "../../services/module.js";
import type { MethodResources, NameView, ServiceResources } from "../../services/resources.js";
import { authorize, mayCall } from "./authorize.js";
import type { Bulkhead } from "./bulkhead.js";
import type { PolicyEvents } from "./events.js";
import type { Principal } from "./policy.js";
import { REQUEST_STATE, type RequestState } from "./request-state.js";

/**
 * The request state of a call: REST contexts carry it directly (building their context values would cost more
 * than the check); RPC contexts, and any other caller, in the context values.
 */
function stateOf(ctx: HandlerContext): RequestState | undefined {
  return (ctx as { requestState?: RequestState }).requestState ?? ctx.values.get(REQUEST_STATE);
}

export interface GuardOptions {
  /** The service's name in policies and logs ("kv"). */
  name: string;
  /** A policy is in force: every call must come from an identified principal allowed to make it. */
  enforce: boolean;
  bulkhead?: Bulkhead;
  events: PolicyEvents;
}

const MAX_LOGGED_NAMES = 20;

type AnyFn = (input: unknown, ctx: HandlerContext) => unknown;
type Spec = MethodResources<unknown, unknown>;

/** The implementation to serve: `instance.impl` itself when there is nothing to enforce or record. */
export function guardService<S extends DescService>(
  instance: ServiceInstance<S>,
  o: GuardOptions,
  recordAccess: boolean,
): ServiceImpl<S> {
  if (!o.enforce && !o.bulkhead && !recordAccess) return instance.impl;
  const resources = instance.resources as ServiceResources | undefined;
  const impl = instance.impl as unknown as Record<string, AnyFn>;
  const out: Record<string, unknown> = {};
  for (const m of instance.desc.methods) {
    const fn = impl[m.localName];
    if (typeof fn !== "function") continue;
    const spec = resources?.methods[m.localName] as Spec | undefined;
    out[m.localName] = wrap(m, fn.bind(impl), spec, resources, o);
  }
  return out as ServiceImpl<S>;
}

function wrap(
  m: DescMethod,
  fn: AnyFn,
  spec: Spec | undefined,
  resources: ServiceResources | undefined,
  o: GuardOptions,
) {
  const service = o.name;
  const method = m.name;
  const namespaced = resources?.namespaced === true;
  const readOnly = resources?.readOnly?.methods.includes(method) ? resources.readOnly : undefined;
  const onDeny = (d: Parameters<typeof o.events.emit<"denied">>[1]) => o.events.emit("denied", d);
  const bulkhead = spec?.longLived ? undefined : o.bulkhead;

  /** Authorises the call (names may be empty: the method alone) and returns the caller's view of names. */
  const check = (ctx: HandlerContext, names: readonly string[]): NameView | undefined => {
    const state = stateOf(ctx);
    const p: Principal | undefined = state?.caller;
    const rec = state?.record;
    if (rec) {
      rec.service = service;
      rec.method = method;
      if (names.length > 0) rec.resources = logged(rec.resources, names);
    }
    if (!p) {
      if (o.enforce) throw sidecarError("UNAUTHORIZED", "the call was not identified (no token was checked)");
      return undefined;
    }
    if (!o.enforce) return undefined;
    const view = authorize(p, service, method, names, namespaced, spec !== undefined, onDeny);
    if (readOnly && p.grants && !readOnly.unless.some((u) => mayCall(p, service, u)))
      ctx.values.set(readOnly.key, true);
    return view;
  };

  const acquire = (ctx: HandlerContext) => (bulkhead ? bulkhead.acquire(ctx.signal) : undefined);
  const into = spec?.into;
  const out = spec?.out;
  const names = spec?.names;

  switch (m.methodKind) {
    case "unary":
      if (!bulkhead) {
        // The common case, kept free of async frames: the call's own promise, plus one step only when the reply
        // or an error has to come out of a namespace.
        return (req: unknown, ctx: HandlerContext) => {
          const view = check(ctx, names ? names(req) : []);
          if (!view) return fn(req, ctx);
          if (into) into(req, view);
          const res = fn(req, ctx) as Promise<unknown>;
          const ns = view.namespace;
          if (out)
            return res.then((r) => out(r, view) ?? r, ns ? (err) => Promise.reject(unscoped(err, ns)) : undefined);
          return ns ? res.catch((err) => Promise.reject(unscoped(err, ns))) : res;
        };
      }
      return async (req: unknown, ctx: HandlerContext) => {
        const view = check(ctx, names ? names(req) : []);
        if (view && into) into(req, view);
        const release = await bulkhead.acquire(ctx.signal);
        try {
          const res = await fn(req, ctx);
          return view && out ? (out(res, view) ?? res) : res;
        } catch (err) {
          throw view?.namespace ? unscoped(err, view.namespace) : err;
        } finally {
          release();
        }
      };
    case "server_streaming":
      return async function* (req: unknown, ctx: HandlerContext) {
        const view = check(ctx, names ? names(req) : []);
        if (view && into) into(req, view);
        const release = await acquire(ctx);
        try {
          for await (const msg of fn(req, ctx) as AsyncIterable<unknown>) {
            const shown = view && out ? out(msg, view) : msg;
            if (shown !== undefined) yield shown;
          }
        } catch (err) {
          throw view?.namespace ? unscoped(err, view.namespace) : err;
        } finally {
          release?.();
        }
      };
    default:
      // Client streams (Upload): the method is authorised up front, the names in each message as it arrives.
      return async (reqs: AsyncIterable<unknown>, ctx: HandlerContext) => {
        let view = check(ctx, []);
        const checked = async function* () {
          for await (const msg of reqs) {
            const named = names ? names(msg) : [];
            if (named.length > 0) {
              view = check(ctx, named);
              if (view && into) into(msg, view);
            }
            yield msg;
          }
        };
        const release = await acquire(ctx);
        try {
          const res = await fn(checked(), ctx);
          return view && out ? (out(res, view) ?? res) : res;
        } catch (err) {
          throw view?.namespace ? unscoped(err, view.namespace) : err;
        } finally {
          release?.();
        }
      };
  }
}

function logged(before: readonly string[] | undefined, names: readonly string[]): readonly string[] {
  const all = before ? [...before, ...names] : names;
  return all.length > MAX_LOGGED_NAMES
    ? [...all.slice(0, MAX_LOGGED_NAMES), `… ${all.length - MAX_LOGGED_NAMES} more`]
    : all;
}

/** The same error with the caller's namespace taken out of its message ("key not found: a", not "orders/a"). */
function unscoped(err: unknown, ns: string): unknown {
  if (!(err instanceof ConnectError) || !err.rawMessage.includes(ns)) return err;
  const message = err.rawMessage.split(ns).join("");
  if (err instanceof SidecarError) return new SidecarError(err.kind, message, err.extra, err.cause);
  return new ConnectError(message, err.code, err.metadata, undefined, err.cause);
}
