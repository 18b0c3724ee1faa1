// Types for the one thing the tests use from npm:@kubernetes/client-node: the model classes'
// attribute maps. The package's own types pull in @types/node, whose globals would change the
// types of every file that `deno check` sees (e.g. node:assert's overloads).
export {};
