import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Value } from '@sinclair/typebox/value';
import { decodeClientFrame, decodeServerFrame, encodeFrame, type FrameDecodeError } from './codec';
import { isErrorCode } from './errors';
import { CLIENT_EXAMPLES, SERVER_EXAMPLES } from './examples.test-util';
import { CLIENT_FRAMES, ClientFrame, SERVER_FRAMES, ServerFrame } from './messages';
import type { Result } from './result';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

const decoders = [
  ['client', decodeClientFrame, ClientFrame],
  ['server', decodeServerFrame, ServerFrame],
] as const;

/** The decode contract: a Result, never an exception; errors are typed; successes match the schema. */
function expectWellFormed(
  result: Result<unknown, FrameDecodeError>,
  schema: typeof ClientFrame | typeof ServerFrame,
) {
  expect(typeof result.ok).toBe('boolean');
  if (result.ok) {
    expect(Value.Check(schema, result.value)).toBe(true);
    return;
  }
  expect(isErrorCode(result.error.code)).toBe(true);
  expect(['BAD_MESSAGE', 'TOO_LARGE']).toContain(result.error.code);
  expect(typeof result.error.message).toBe('string');
  const issues = result.error.details?.['issues'];
  if (issues !== undefined) {
    expect(Array.isArray(issues)).toBe(true);
    for (const issue of issues as { path: unknown; reason: unknown }[]) {
      expect(typeof issue.path).toBe('string');
      expect(typeof issue.reason).toBe('string');
    }
  }
}

function leafPaths(value: Json, at = ''): string[] {
  if (value === null || typeof value !== 'object') return [at];
  const entries = Array.isArray(value) ? value.map((v, i) => [String(i), v] as const) : Object.entries(value);
  return [at, ...entries.flatMap(([key, child]) => leafPaths(child, `${at}/${key}`))];
}

function replaceAt(value: Json, path: string, replacement: Json): Json {
  if (path === '') return replacement;
  const copy = JSON.parse(JSON.stringify(value)) as Json;
  const keys = path.split('/').slice(1);
  let node = copy as Record<string, Json>;
  for (const key of keys.slice(0, -1)) node = node[key] as Record<string, Json>;
  node[keys[keys.length - 1] as string] = replacement;
  return copy;
}

describe.each(decoders)('%s decoder under random input', (_side, decode, schema) => {
  it('never throws on arbitrary strings', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.string({ unit: 'binary' })), (text) => {
        expectWellFormed(decode(text), schema);
      }),
      { numRuns: 300 },
    );
  });

  it('never throws on arbitrary JSON', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        expectWellFormed(decode(JSON.stringify(value)), schema);
      }),
      { numRuns: 300 },
    );
  });

  it('never throws on objects with a real frame type and random fields', () => {
    const types = Object.keys(schema === ClientFrame ? CLIENT_FRAMES : SERVER_FRAMES);
    fc.assert(
      fc.property(fc.constantFrom(...types), fc.dictionary(fc.string(), fc.jsonValue()), (t, rest) => {
        expectWellFormed(decode(JSON.stringify({ ...rest, t })), schema);
      }),
      { numRuns: 300 },
    );
  });
});

describe.each([
  ['client', decodeClientFrame, ClientFrame, CLIENT_EXAMPLES],
  ['server', decodeServerFrame, ServerFrame, SERVER_EXAMPLES],
] as const)('%s decoder on mutated valid frames', (_side, decode, schema, examples) => {
  it('never throws, and whatever it accepts re-encodes to the same frame', () => {
    const mutated = fc
      .constantFrom(...examples.map((frame) => JSON.parse(encodeFrame(frame)) as Json))
      .chain((frame) => fc.tuple(fc.constant(frame), fc.constantFrom(...leafPaths(frame)), fc.jsonValue()))
      .map(([frame, path, replacement]) => replaceAt(frame, path, replacement as Json));
    fc.assert(
      fc.property(mutated, (frame) => {
        const result = decode(JSON.stringify(frame));
        expectWellFormed(result, schema);
        if (result.ok) expect(decode(encodeFrame(result.value))).toStrictEqual(result);
      }),
      { numRuns: 500 },
    );
  });
});
