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
import { ScalarType, type DescField, type Message } from "@bufbuild/protobuf";
import { reflect } from "@bufbuild/protobuf/reflect";
import { BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
import { undecodableRequest } from "../failures.js";

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
          throw undecodableRequest(input.typeName, (e as Error).message);
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
        throw undecodableRequest(input.typeName, (e as Error).message);
      }
    },
    serialize: (m) => encoder.encode(toJsonString(output, m)),
  };
}

/** Below this a `bytes` field is cheaper to copy along with the rest of the message. */
const LARGE = 16 * 1024;

/**
 * A message whose only set field is one large `bytes` field (a Download chunk), as two parts — the field's tag
 * and length, then the bytes themselves — so that a stream can write them without toBinary copying the bytes
 * into a fresh buffer (that copy, and the GC of those buffers, was over half the CPU of a 1 MiB Download).
 * Undefined for any other message: it is encoded as usual.
 */
export function largeBytesParts(desc: DescMessage, message: Message): [Uint8Array, Uint8Array] | undefined {
  if (!hasBytesField(desc)) return undefined;
  const r = reflect(desc, message);
  if ((r.getUnknown()?.length ?? 0) > 0) return undefined;
  let only: DescField | undefined;
  for (const f of r.fields) {
    if (!r.isSet(f)) continue;
    if (only !== undefined || f.fieldKind !== "scalar" || f.scalar !== ScalarType.BYTES) return undefined;
    only = f;
  }
  if (only === undefined) return undefined;
  const value = r.get(only) as Uint8Array;
  if (value.byteLength < LARGE) return undefined;
  const head = new BinaryWriter().tag(only.number, WireType.LengthDelimited).uint32(value.byteLength).finish();
  return [head, value];
}

const withBytes = new WeakMap<DescMessage, boolean>();
function hasBytesField(desc: DescMessage): boolean {
  let v = withBytes.get(desc);
  if (v === undefined) {
    v = desc.fields.some((f) => f.fieldKind === "scalar" && f.scalar === ScalarType.BYTES);
    withBytes.set(desc, v);
  }
  return v;
}
