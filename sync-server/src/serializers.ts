/**
 * Fastify's response serializers (fast-json-stringify code generated from each route's response schema),
 * compiled once per schema object for the process instead of once per app: the route schemas are
 * @hale/protocol's module-level TypeBox objects, so every app built in a process (the test harness builds
 * hundreds: about two thirds of an app's start-up CPU went to these compilations) asks for the same ones.
 *
 * | invariant | how |
 * |---|---|
 * | a serializer is what Fastify's own compiler makes for that schema | it is made by that compiler (`SerializerSelector`) |
 * | a cached serializer is reused only where it would be compiled the same | only for apps without shared (`addSchema`) schemas and serializer options, which this server never sets |
 *
 * A generated serializer is a pure function of the value it writes, so apps may share it.
 */
import { SerializerSelector } from '@fastify/fast-json-stringify-compiler';

type Factory = ReturnType<typeof SerializerSelector>;
type Compiler = ReturnType<Factory>;
type Serializer = ReturnType<Compiler>;

const fastJsonStringify = SerializerSelector();
const compiled = new WeakMap<object, Serializer>();

const isEmpty = (v: unknown): boolean =>
  v === undefined || v === null || (typeof v === 'object' && Object.keys(v).length === 0);

/** `schemaController.compilersFactory.buildSerializer` for Fastify: its own, with compilations kept. */
export const buildCachedSerializer: Factory = (externalSchemas, options) => {
  const compile = fastJsonStringify(externalSchemas, options);
  if (!isEmpty(externalSchemas) || !isEmpty(options)) return compile;
  return (route) => {
    const { schema } = route;
    if (typeof schema !== 'object' || schema === null) return compile(route);
    let serializer = compiled.get(schema);
    if (serializer === undefined) {
      serializer = compile(route);
      compiled.set(schema, serializer);
    }
    return serializer;
  };
};
