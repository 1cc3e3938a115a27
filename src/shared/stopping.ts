/**
 * The server's "stopping" signal, as a Connect context value: aborted when the sidecar begins to shut down.
 * Long-polls answer at once with what they have (nothing, as at their timeout) and endless streams (Watch,
 * Stream) end cleanly, so they do not hold the shutdown; ordinary calls keep their own signal and finish.
 */
import { createContextKey, type HandlerContext } from "@connectrpc/connect";

export const serverStopping = createContextKey<AbortSignal | undefined>(undefined, {
  description: "server.stopping",
});

/** The call's signal, also aborted when the server begins to stop (for waits that should end then). */
export function untilStopping(ctx: HandlerContext): AbortSignal {
  const stopping = ctx.values.get(serverStopping);
  return stopping ? AbortSignal.any([ctx.signal, stopping]) : ctx.signal;
}
