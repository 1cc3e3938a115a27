/**
 * Protobuf binary and JSON for one method's request and response, with protobuf-es directly. JSON follows
 * connect-es's defaults (unknown fields ignored on input, proto3 JSON on output). Unlike connect-es, a request
 * that does not decode is INVALID_ARGUMENT in both encodings (connect-es says INTERNAL for bad binary): the
 * fault is the client's.
 */
import {
  fromBinary,
  fromJsonString,
  toBinary,
  toJsonString,
  type DescMessage,
  type DescMethod,
} from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";

export interface Codec {
  parse(bytes: Uint8Array): never | ReturnType<typeof fromBinary<DescMessage>>;
  serialize(message: ReturnType<typeof fromBinary<DescMessage>>): Uint8Array;
}

const decoder = new TextDecoder("utf-8", { fatal: true });
const encoder = new TextEncoder();
const JSON_READ = { ignoreUnknownFields: true };

export function codecFor(method: DescMethod, binary: boolean): Codec {
  const input = method.input;
  const output = method.output;
  if (binary) {
    return {
      parse(bytes) {
        try {
          return fromBinary(input, bytes);
        } catch (e) {
          throw new ConnectError(`cannot decode ${input.typeName}: ${(e as Error).message}`, Code.InvalidArgument);
        }
      },
      serialize: (m) => toBinary(output, m),
    };
  }
  return {
    parse(bytes) {
      try {
        return fromJsonString(input, decoder.decode(bytes), JSON_READ);
      } catch (e) {
        throw new ConnectError(
          `cannot decode ${input.typeName} from JSON: ${(e as Error).message}`,
          Code.InvalidArgument,
        );
      }
    },
    serialize: (m) => encoder.encode(toJsonString(output, m)),
  };
}
