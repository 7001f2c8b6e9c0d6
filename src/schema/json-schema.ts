/** A JSON Schema object as Fastify/Ajv and @fastify/swagger consume it. */
export type JsonSchema = Record<string, unknown>;
