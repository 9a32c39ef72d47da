// A frame a device sends is refused unparsed when it holds more structure than any client frame's schema
// allows (MAX_CLIENT_FRAME_TOKENS, MAX_CLIENT_FRAME_DEPTH): JSON.parse costs by values, not bytes, so an
// 8 MiB frame of a million tiny members, of millions of empty arrays, or nested millions deep held the
// server's one thread for a second or more, where a frame of one long string of the same size takes
// milliseconds. The bounds must stay above what the schemas allow, derived here from them.
import type { TSchema } from '@sinclair/typebox';
import { describe, expect, it } from 'vitest';
import { decodeClientFrame, decodeServerFrame } from './codec';
import {
  MAX_CLIENT_FRAME_DEPTH,
  MAX_CLIENT_FRAME_TOKENS,
  MAX_FRAME_BYTES,
  MAX_SERVER_FRAME_TOKENS,
} from './limits';
import { CLIENT_FRAMES, SERVER_FRAMES } from './messages';

interface Shape {
  properties?: Record<string, TSchema>;
  items?: TSchema;
  maxItems?: number;
  anyOf?: TSchema[];
  type?: unknown;
}

/** Most `{ [ , :` a value of `schema` can be written with (every optional property present). */
const maxTokens = (schema: TSchema): number => {
  const s = schema as Shape;
  if (s.anyOf) return Math.max(...s.anyOf.map(maxTokens));
  if (s.properties) {
    const props = Object.values(s.properties);
    return 1 + 2 * props.length + props.reduce((sum, p) => sum + maxTokens(p), 0);
  }
  if (s.items) {
    if (s.maxItems === undefined) throw new Error('an array without maxItems in a client frame');
    return 1 + s.maxItems * (1 + maxTokens(s.items));
  }
  if (s.type === 'object' || s.type === 'array') throw new Error('an open container in a client frame');
  return 0;
};

/** How deep objects and arrays of `schema` nest. */
const maxDepth = (schema: TSchema): number => {
  const s = schema as Shape;
  if (s.anyOf) return Math.max(...s.anyOf.map(maxDepth));
  if (s.properties) return 1 + Math.max(0, ...Object.values(s.properties).map(maxDepth));
  if (s.items) return 1 + maxDepth(s.items);
  return 0;
};

const refusedUnparsed = (text: string, reason: RegExp) => {
  expect(text.length).toBeLessThanOrEqual(MAX_FRAME_BYTES);
  const started = performance.now();
  const result = decodeClientFrame(text);
  const took = performance.now() - started;
  expect(result).toMatchObject({ ok: false, error: { code: 'BAD_MESSAGE' } });
  if (!result.ok) expect(result.error.message).toMatch(reason);
  return took;
};

describe('the structure of a client frame', () => {
  it('the bounds stay above the most any client frame can hold', () => {
    const tokens = Object.entries(CLIENT_FRAMES).map(([t, schema]) => [t, maxTokens(schema)] as const);
    const [largest, count] = tokens.reduce((a, b) => (b[1] > a[1] ? b : a));
    expect(largest).toBe('putEnvelopes');
    expect(count).toBeGreaterThan(60_000);
    expect(count).toBeLessThan(MAX_CLIENT_FRAME_TOKENS);
    const depth = Math.max(...Object.values(CLIENT_FRAMES).map(maxDepth));
    expect(depth).toBeGreaterThan(3);
    expect(depth).toBeLessThan(MAX_CLIENT_FRAME_DEPTH);
  });

  it('past them a frame is refused before it is parsed, saying why', () => {
    const times = [
      refusedUnparsed(
        `{"rid":1,"t":"ping","x":{${Array.from({ length: 900_000 }, (_, i) => `"${i.toString(36)}":1`).join(',')},"0":2}}`,
        /holds more than 262144 values/,
      ),
      refusedUnparsed(
        `{"rid":1,"t":"push","rows":[${Array<string>(2_700_000).fill('[]').join(',')}]}`,
        /holds more than 262144 values/,
      ),
      refusedUnparsed(
        `{"rid":1,"t":"push","rows":${'['.repeat(4_000_000)}${']'.repeat(4_000_000)}}`,
        /nests objects and arrays deeper than 32/,
      ),
    ];
    // The scan stops at the bound passed: far below the second or more parsing each took.
    console.log(`refused unparsed in ${times.map((ms) => ms.toFixed(1)).join(' / ')} ms`);
  });

  it('within them a frame is parsed and checked as any: the largest valid frames pass', () => {
    const envelope = (i: number) => ({
      stream: `${'A'.repeat(22)}/allergy`,
      epoch: 1,
      recipient: 'B'.repeat(22),
      keyId: 'k'.repeat(43),
      wrapped: 'w'.repeat(108),
      createdBy: `dev${String(i).padStart(19, '0')}`.slice(0, 22),
      sig: 's'.repeat(86),
    });
    const text = JSON.stringify({
      t: 'putEnvelopes',
      rid: 7,
      envelopes: Array.from({ length: 5000 }, (_, i) => envelope(i)),
    });
    const result = decodeClientFrame(text);
    // Whatever the schema says of these made-up values, it is the schema that says it.
    if (!result.ok) expect(result.error.message).not.toMatch(/more than any frame/);
    // A duplicate name is still found and named.
    const duplicate = decodeClientFrame('{"rid":1,"t":"ping","rid":2}');
    expect(duplicate).toMatchObject({ ok: false, error: { code: 'BAD_MESSAGE' } });
  });

  it('what a server sends has bounds of its own, above the most a server frame can hold', () => {
    // Arrays the schemas leave unbounded (stream lists, access changes) are counted as empty here.
    const lenient = (schema: TSchema): number => {
      const x = schema as Shape;
      if (x.items !== undefined && x.maxItems === undefined) return 0;
      if (x.type === 'object' && x.properties === undefined) return 0;
      if (x.anyOf) return Math.max(...x.anyOf.map(lenient));
      if (x.properties) {
        const props = Object.values(x.properties);
        return 1 + 2 * props.length + props.reduce((sum, p) => sum + lenient(p), 0);
      }
      if (x.items) return 1 + x.maxItems! * (1 + lenient(x.items));
      return 0;
    };
    const most = Math.max(...Object.values(SERVER_FRAMES).map(lenient));
    expect(most).toBeGreaterThan(MAX_CLIENT_FRAME_TOKENS);
    expect(most).toBeLessThan(MAX_SERVER_FRAME_TOKENS);
    expect(Math.max(...Object.values(SERVER_FRAMES).map(maxDepth))).toBeLessThan(MAX_CLIENT_FRAME_DEPTH);
    // A grant listing's worth of structure is parsed (then refused for what it is, no server ping).
    const many = `{"rid":1,"t":"ping","x":{${Array.from({ length: MAX_CLIENT_FRAME_TOKENS }, (_, i) => `"${i.toString(36)}":1`).join(',')}}}`;
    const result = decodeServerFrame(many);
    expect(result).toMatchObject({ ok: false, error: { code: 'BAD_MESSAGE', rid: 1 } });
    if (!result.ok) expect(result.error.message).not.toMatch(/more than any frame/);
    // Nested millions deep: refused unparsed.
    const deep = decodeServerFrame(
      `{"t":"pong","rid":1,"x":${'['.repeat(3_000_000)}${']'.repeat(3_000_000)}}`,
    );
    expect(deep).toMatchObject({ ok: false, error: { code: 'BAD_MESSAGE', unparsed: true } });
    if (!deep.ok) expect(deep.error.message).toMatch(/deeper than 32/);
  });
});
