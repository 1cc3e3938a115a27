/**
 * What names a resource in each call of a service, declared by the service and enforced by the server's policy
 * (src/server/policy/). A service says which request fields name things (KV keys, object paths, queue names,
 * secret names, senders), how to move a request into a caller's namespace and how to bring a reply out of it;
 * it never decides who may do what.
 */
import type { DescService, MessageShape } from "@bufbuild/protobuf";
import type { ContextKey } from "@connectrpc/connect";

/** A caller's view of names: inside its namespace, and limited to what its rules let it see. */
export interface NameView {
  /** The namespace put in front of the caller's names ("" for none). */
  readonly namespace: string;
  /** The stored name for a name as the caller sent it (its namespace in front). */
  into(name: string): string;
  /** The caller's name for a stored one: the namespace taken off; undefined when the caller may not see it. */
  out(name: string): string | undefined;
  /** The stored name with the namespace taken off, whatever the rules say (a reply about a name already allowed). */
  strip(name: string): string;
}

/**
 * One method's names. `into` and `out` must assign new values rather than edit arrays, maps or nested messages
 * in place: REST rows keep the arrays they passed in, and backends may hand out shared objects.
 */
export interface MethodResources<I, O> {
  /** The names the request carries, as the caller sent them; every one must be allowed. */
  names?(req: I): readonly string[];
  /** Puts the request's names inside the caller's namespace. */
  into?(req: I, view: NameView): void;
  /**
   * The reply (or one streamed message) as the caller may see it; undefined drops a streamed message. Lists and
   * watches name no single resource: they are allowed by the method, and `out` drops what the caller may not see.
   */
  out?(res: O, view: NameView): O | undefined;
  /** A subscription that stays open (Watch, Stream): not counted against a concurrency cap. */
  longLived?: boolean;
}

type Methods<S extends DescService> = S["method"];

export interface ServiceResources<S extends DescService = DescService> {
  /** False when names are not the caller's own (email senders): a namespace does not apply. */
  readonly namespaced: boolean;
  readonly methods: {
    readonly [K in keyof Methods<S>]?: MethodResources<
      MessageShape<Methods<S>[K]["input"]>,
      MessageShape<Methods<S>[K]["output"]>
    >;
  };
  /**
   * Methods that run restricted (the context value `key` set to true) for a caller allowed none of `unless`:
   * SQL `Query` runs read-only for a token that may not call `Execute`, `Batch` or `Script`.
   */
  readonly readOnly?: { methods: readonly string[]; unless: readonly string[]; key: ContextKey<boolean> };
}
