import { describe, expect, it } from 'vitest';
import { Type } from '@sinclair/typebox';
import { SerializerSelector } from '@fastify/fast-json-stringify-compiler';
import { buildCachedSerializer } from './serializers';

const route = (schema: unknown) => ({ schema, method: 'GET', url: '/x', httpStatus: '200' });
const Answer = Type.Object({ ok: Type.Boolean(), n: Type.Integer() });

describe('the response serializers shared by the apps of a process', () => {
  it('compiles a schema once for every app and writes what Fastify’s own compiler writes', () => {
    const first = buildCachedSerializer({}, {})(route(Answer));
    const second = buildCachedSerializer({}, {})(route(Answer));
    expect(second).toBe(first);
    const own = SerializerSelector()({}, {})(route(Answer));
    // Properties outside the schema are left out, as the uncached serializer leaves them.
    const value = { ok: true, n: 3, secret: 'not in the schema' };
    expect(first(value)).toBe(own(value));
    expect(first(value)).toBe('{"ok":true,"n":3}');
  });

  it('compiles anew for another schema object, and for apps with shared schemas or options', () => {
    const other = Type.Object({ ok: Type.Boolean(), n: Type.Integer() });
    const cached = buildCachedSerializer({}, {})(route(Answer));
    expect(buildCachedSerializer({}, {})(route(other))).not.toBe(cached);
    expect(buildCachedSerializer({ shared: { $id: 'shared' } }, {})(route(Answer))).not.toBe(cached);
    expect(buildCachedSerializer({}, { rounding: 'floor' })(route(Answer))).not.toBe(cached);
  });
});
