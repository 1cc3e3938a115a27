/**
 * The layer rules of docs/architecture.md, checked by `npm run lint`:
 *   cli -> index -> server -> services -> shared -> gen      (arrows point down only)
 * plus: no cycles (dynamic imports included), one service never reaches into another, and each backend client
 * library is imported only by the backend file that wraps it.
 */
const backendClients = [
  // [name, library folder under node_modules, the only files that may import it]
  ["pg", "(pg|pg-cursor|pg-protocol)/", "^src/services/sql/backends/postgres[^/]*[.]ts$"],
  ["better-sqlite3", "better-sqlite3/", "^src/services/sql/backends/sqlite[^/]*[.]ts$"],
  ["ioredis", "ioredis/", "^src/(services/(kv|queue)/backends/redis[^/]*|shared/redis|server/policy/redis-rate-store)[.]ts$"],
  ["amqplib", "amqplib/", "^src/services/queue/backends/amqp[^/]*[.]ts$"],
  ["aws-s3", "@aws-sdk/(client-s3|lib-storage)/", "^src/services/storage/backends/s3[^/]*[.]ts$"],
  ["aws-secrets-manager", "@aws-sdk/client-secrets-manager/", "^src/services/secrets/backends/aws-sm[.]ts$"],
  ["node-vault", "node-vault/", "^src/services/secrets/backends/vault[.]ts$"],
  ["nodemailer", "nodemailer/", "^src/services/email/backends/smtp[^/]*[.]ts$"],
  ["lmdb", "lmdb/", "^src/services/kv/backends/lmdb[.]ts$"],
  ["quickjs", "quickjs-emscripten", "^src/services/sql/script/"],
];

module.exports = {
  forbidden: [
    { name: "no-circular", severity: "error", comment: "import cycles (dynamic imports too)", from: {}, to: { circular: true } },
    {
      name: "gen-is-leaf",
      severity: "error",
      comment: "generated code imports nothing of ours",
      from: { path: "^gen/" },
      to: { path: "^src/" },
    },
    {
      name: "shared-is-below-services",
      severity: "error",
      comment: "shared/ holds codecs every layer may use; it imports no service, server or entry point",
      from: { path: "^src/shared/" },
      to: { path: "^src/(services|server)/|^src/(cli|index|options)[.]ts$" },
    },
    {
      name: "services-below-server",
      severity: "error",
      comment: "a service never imports the server, the options parser or the entry points",
      from: { path: "^src/services/" },
      to: { path: "^src/server/|^src/(cli|index|options)[.]ts$" },
    },
    {
      name: "service-stays-in-its-folder",
      severity: "error",
      comment: "one service never reaches into another's folder (shared code goes to src/shared/)",
      from: { path: "^src/services/([^/]+)/" },
      to: { path: "^src/services/[^/]+/", pathNot: "^src/services/$1/" },
    },
    {
      name: "service-folders-below-catalogue",
      severity: "error",
      comment: "module.ts is the interface every service implements; only catalogue.ts lists the services",
      from: { path: "^src/services/([^/]+)/" },
      to: { path: "^src/services/catalogue[.]ts$" },
    },
    {
      name: "server-below-entry-points",
      severity: "error",
      comment: "the server never imports the CLI, its options or the library entry",
      from: { path: "^src/server/" },
      to: { path: "^src/(cli|index|options)[.]ts$" },
    },
    {
      name: "nothing-imports-cli",
      severity: "error",
      from: { pathNot: "^src/cli[.]ts$" },
      to: { path: "^src/cli[.]ts$" },
    },
    ...backendClients.map(([name, lib, allowed]) => ({
      name: `backend-client-${name}`,
      severity: "error",
      comment: `${name} is only imported by the backend file that wraps it`,
      from: { pathNot: allowed },
      to: { path: `^node_modules/${lib}` },
    })),
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.json" },
    enhancedResolveOptions: { exportsFields: ["exports"], conditionNames: ["import", "require", "node", "default"] },
    exclude: { path: "^(dist|data)/" },
  },
};
