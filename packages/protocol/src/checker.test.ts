import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Value } from '@sinclair/typebox/value';
import { createChecker, openSchema } from './checker';
import { decodeClientFrame, decodeServerFrame, decodeServerFrameTolerant, encodeFrame } from './codec';
import { CLIENT_EXAMPLES, SERVER_EXAMPLES, pushDoc } from './examples.test-util';
import { ClientFrame, PushFrame, PushResult, ServerFrame } from './messages';

// This file's order matters: the last describe blocks code generation for the rest of the module.

describe('compiled checker', () => {
  it('is compiled when code generation is allowed and agrees with Value.Check', () => {
    const compiled = createChecker(ClientFrame);
    expect(compiled.mode).toBe('compiled');
    const frames = fc.oneof(
      fc.constantFrom(...CLIENT_EXAMPLES),
      fc
        .constantFrom(...CLIENT_EXAMPLES)
        .chain((frame) =>
          fc
            .dictionary(
              fc.constantFrom('t', 'rid', 'streams', 'rows', 'sig', 'versions', 'limit'),
              fc.jsonValue(),
            )
            .map((over) => ({ ...frame, ...over })),
        ),
    );
    fc.assert(
      fc.property(frames, (value) => {
        expect(compiled.check(value)).toBe(Value.Check(ClientFrame, value));
      }),
      { numRuns: 300 },
    );
  });
});

describe('when code generation is forbidden (strict CSP)', () => {
  afterEach(() => vi.unstubAllGlobals());

  it('falls back to the interpreter and still accepts and rejects the same frames', () => {
    vi.stubGlobal('Function', function forbidden() {
      throw new EvalError('Refused to evaluate a string as JavaScript (CSP)');
    });
    const checker = createChecker(PushFrame);
    expect(checker.mode).toBe('interpreted');
    const good = { t: 'push', rid: 1, rows: [{ doc: pushDoc(), assumedRev: null }] };
    expect(checker.check(good)).toBe(true);
    const bad = { ...good, rows: [{ doc: { ...pushDoc(), rev: 'nope' }, assumedRev: null }] };
    expect(checker.check(bad)).toBe(false);
    expect(checker.issues(bad)).toContainEqual(expect.objectContaining({ path: '/rows/0/doc/rev' }));
  });

  it('decodes every frame with code generation still blocked', () => {
    vi.stubGlobal('Function', function forbidden() {
      throw new EvalError('CSP');
    });
    expect(createChecker(ServerFrame).mode).toBe('interpreted');
    for (const frame of CLIENT_EXAMPLES) expect(decodeClientFrame(encodeFrame(frame)).ok).toBe(true);
    for (const frame of SERVER_EXAMPLES) expect(decodeServerFrame(encodeFrame(frame)).ok).toBe(true);
    const broken = decodeClientFrame('{"t":"ping","rid":"one"}');
    expect(!broken.ok && broken.error.code).toBe('BAD_MESSAGE');
  });

  it('drops properties a newer server added, interpreted, as when compiled', () => {
    vi.stubGlobal('Function', function forbidden() {
      throw new EvalError('CSP');
    });
    for (const frame of SERVER_EXAMPLES) {
      const newer = { ...frame, addedLater: { x: 1 } };
      expect(decodeServerFrameTolerant(JSON.stringify(newer))).toStrictEqual({ ok: true, value: frame });
    }
    const pushed = SERVER_EXAMPLES.find((frame) => frame.t === 'pushed')!;
    const nested = JSON.parse(JSON.stringify(pushed)) as { results: Record<string, unknown>[] };
    nested.results[1]!['addedLater'] = 1;
    expect(decodeServerFrameTolerant(JSON.stringify(nested))).toStrictEqual({ ok: true, value: pushed });
    expect(createChecker(openSchema(PushResult)).mode).toBe('interpreted');
  });
});
