// Stands in for client-node's dist/gen/index.js when dist/config.js imports it (slim-client.ts).
// config.js needs only these two names from it; the real index re-exports every generated model
// and API class (900+ modules whose source text V8 keeps: ≈ 25 MiB of heap).
export { createConfiguration } from '@kubernetes/client-node/dist/gen/configuration.js';
export * from '@kubernetes/client-node/dist/gen/servers.js';
