import { describe, expect, it } from 'vitest';
import { decodeClientFrame, decodeServerFrame, decodeServerFrameTolerant } from './codec';

const DUPLICATE = 'duplicate member name: each name may appear once in an object';

describe('a frame that repeats rid names no request, whatever else it repeats', () => {
  const decoders = [decodeClientFrame, decodeServerFrame, decodeServerFrameTolerant];

  it('leaves rid out when another repeated name comes first', () => {
    const cases: Array<[string, string]> = [
      ['{"t":"ping","t":"ping","rid":1,"rid":2}', '/t'],
      ['{"rid":1,"x":1,"x":2,"rid":2}', '/x'],
      ['{"t":"ping","a":{"b":1,"b":2},"rid":1,"rid":2}', '/a/b'],
      ['{"t":"push","rows":[{"a":1,"a":1}],"rid":3,"rid":4}', '/rows/0/a'],
      // An escape spells the same name: JSON.parse keeps the second.
      ['{"t":"ping","t":"ping","rid":1,"r\\u0069d":2}', '/t'],
      ['{"t":"ping","__proto__":{},"rid":1,"rid":2}', '/__proto__'],
    ];
    for (const decode of decoders) {
      for (const [text, path] of cases) {
        const result = decode(text);
        expect(result.ok, text).toBe(false);
        if (result.ok) continue;
        expect(result.error.code, text).toBe('BAD_MESSAGE');
        expect(result.error.rid, text).toBeUndefined();
        // The first fault is still the one named.
        expect(result.error.details?.['issues'], text).toMatchObject([{ path }]);
      }
    }
  });

  it('still names the request when rid appears once at the top (a nested rid is another member)', () => {
    const cases: Array<[string, number, string]> = [
      ['{"t":"ping","t":"ping","rid":7}', 7, DUPLICATE],
      ['{"t":"ping","rid":3,"x":{"rid":1,"rid":2}}', 3, DUPLICATE],
      ['{"t":"ping","rid":5,"rows":[{"rid":1},{"rid":2}],"t":"x"}', 5, DUPLICATE],
      ['{"t":"ping","rid":6,"__proto__":{}}', 6, 'member name __proto__ is not allowed'],
    ];
    for (const decode of decoders) {
      for (const [text, rid, reason] of cases) {
        const result = decode(text);
        expect(!result.ok && result.error.rid, text).toBe(rid);
        expect(!result.ok && result.error.details?.['issues'], text).toMatchObject([{ reason }]);
      }
    }
  });
});
