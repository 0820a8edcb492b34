// Stands in for client-node's dist/serializer.js when dist/cache.js imports it (slim-client.ts).
// cache.js passes only the label/field selector strings through it (serialize(x, 'string') is x);
// the real one loads the generated ObjectSerializer and with it every model class.
export const ObjectSerializer = {
  serialize(value: unknown): unknown {
    return value;
  },
};
