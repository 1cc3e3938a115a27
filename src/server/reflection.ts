/**
 * gRPC server reflection (v1 + v1alpha), so grpcurl and `buf curl --reflect` need no proto files.
 * No maintained package serves it for connect-node.
 */
import { create, toBinary } from "@bufbuild/protobuf";
import type { DescFile, DescMessage, DescService } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import type { ConnectRouter } from "@connectrpc/connect";
import { Code } from "@connectrpc/connect";
import * as v1 from "../../gen/grpc/reflection/v1/reflection_pb.js";
import * as v1alpha from "../../gen/grpc/reflection/v1alpha/reflection_pb.js";

interface Index {
  files: Map<string, DescFile>; // "demo/v1/demo.proto" -> file
  symbols: Map<string, DescFile>; // fully-qualified name -> file
  extensions: Map<string, Map<number, DescFile>>; // extendee -> number -> file
  services: string[];
}

function buildIndex(services: DescService[]): Index {
  const idx: Index = { files: new Map(), symbols: new Map(), extensions: new Map(), services: [] };
  const addMessage = (m: DescMessage, f: DescFile) => {
    idx.symbols.set(m.typeName, f);
    m.nestedMessages.forEach((n) => addMessage(n, f));
    m.nestedEnums.forEach((e) => idx.symbols.set(e.typeName, f));
    m.nestedExtensions.forEach((x) => addExt(x.typeName, x.extendee.typeName, x.number, f));
  };
  const addExt = (name: string, extendee: string, no: number, f: DescFile) => {
    idx.symbols.set(name, f);
    let m = idx.extensions.get(extendee);
    if (!m) idx.extensions.set(extendee, (m = new Map()));
    m.set(no, f);
  };
  const addFile = (f: DescFile) => {
    if (idx.files.has(f.proto.name)) return;
    idx.files.set(f.proto.name, f);
    f.dependencies.forEach(addFile);
    f.messages.forEach((m) => addMessage(m, f));
    f.enums.forEach((e) => idx.symbols.set(e.typeName, f));
    f.extensions.forEach((x) => addExt(x.typeName, x.extendee.typeName, x.number, f));
    for (const s of f.services) {
      idx.symbols.set(s.typeName, f);
      s.methods.forEach((m) => idx.symbols.set(`${s.typeName}.${m.name}`, f));
    }
  };
  for (const s of services) {
    addFile(s.file);
    idx.services.push(s.typeName);
  }
  return idx;
}

// Returns the file plus transitive deps not yet sent on this stream (like grpc-go).
function fileWithDeps(f: DescFile, sent: Set<string>): Uint8Array[] {
  const out: Uint8Array[] = [];
  const visit = (x: DescFile) => {
    if (sent.has(x.proto.name)) return;
    sent.add(x.proto.name);
    out.push(toBinary(FileDescriptorProtoSchema, x.proto));
    x.dependencies.forEach(visit);
  };
  visit(f);
  return out;
}

type Req = v1.ServerReflectionRequest | v1alpha.ServerReflectionRequest;

function handle(idx: Index, req: Req, sent: Set<string>) {
  const mr = req.messageRequest;
  const notFound = (what: string) => ({
    case: "errorResponse" as const,
    value: { errorCode: Code.NotFound, errorMessage: `${what} not found` },
  });
  const files = (f: DescFile | undefined, what: string) =>
    f
      ? { case: "fileDescriptorResponse" as const, value: { fileDescriptorProto: fileWithDeps(f, sent) } }
      : notFound(what);
  switch (mr.case) {
    case "listServices":
      return { case: "listServicesResponse" as const, value: { service: idx.services.map((name) => ({ name })) } };
    case "fileByFilename":
      return files(idx.files.get(mr.value), `file ${mr.value}`);
    case "fileContainingSymbol":
      return files(idx.symbols.get(mr.value), `symbol ${mr.value}`);
    case "fileContainingExtension":
      return files(idx.extensions.get(mr.value.containingType)?.get(mr.value.extensionNumber), "extension");
    case "allExtensionNumbersOfType": {
      if (!idx.symbols.has(mr.value)) return notFound(`type ${mr.value}`);
      return {
        case: "allExtensionNumbersResponse" as const,
        value: { baseTypeName: mr.value, extensionNumber: [...(idx.extensions.get(mr.value)?.keys() ?? [])] },
      };
    }
    default:
      return {
        case: "errorResponse" as const,
        value: { errorCode: Code.InvalidArgument, errorMessage: "unknown request" },
      };
  }
}

/** Registers grpc.reflection.v1 and v1alpha ServerReflection on the router (the two are wire-identical). */
export function registerReflection(router: ConnectRouter, services: DescService[]) {
  const idx = buildIndex(services);
  for (const api of [v1, v1alpha] as const) {
    router.service(api.ServerReflection as typeof v1.ServerReflection, {
      async *serverReflectionInfo(reqs) {
        const sent = new Set<string>();
        for await (const req of reqs) {
          yield create(v1.ServerReflectionResponseSchema, {
            validHost: req.host,
            originalRequest: req,
            messageResponse: handle(idx, req, sent),
          });
        }
      },
    });
  }
}
