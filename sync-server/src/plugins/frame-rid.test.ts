import { describe, expect, it } from 'vitest';
import { RID_SCAN_BYTES, scanRid } from './frame-rid';

const scan = (text: string): number | undefined => scanRid(Buffer.from(text, 'utf8'));

describe('scanRid', () => {
  it('finds a top-level rid wherever it stands', () => {
    expect(scan('{"rid":7,"t":"ping"}')).toBe(7);
    expect(scan('{"t":"ping","rid":7}')).toBe(7);
    expect(scan(' {\n "t" : "pull" , "streams" : [ {"stream":"p/note","since":0} ] , "rid" : 42 }')).toBe(42);
    expect(
      scan('{"t":"push","rows":[{"doc":{"ct":"ü😀\\\\"},"assumedRev":null}],"rid":999999999999999}'),
    ).toBe(999_999_999_999_999);
    // Every rid the protocol allows, to 2^53 - 1 (16 digits), first or last.
    expect(scan('{"rid":1000000000000000,"t":"ping"}')).toBe(1_000_000_000_000_000);
    expect(scan('{"t":"ping","rid":9007199254740991}')).toBe(Number.MAX_SAFE_INTEGER);
    const long = `{"t":"push","rows":["${'a'.repeat(RID_SCAN_BYTES * 2)}"],"rid":9007199254740991}`;
    expect(scan(long)).toBe(Number.MAX_SAFE_INTEGER);
    expect(scan(long.replace('9007199254740991', '9007199254740992'))).toBeUndefined();
  });

  it('never takes rid-like text in strings or nested members', () => {
    expect(scan('{"t":"ping","note":"\\"rid\\":9,"}')).toBeUndefined();
    expect(scan('{"t":"ping","x":{"rid":9}}')).toBeUndefined();
    expect(scan('{"t":"ping","y":[{"rid":9},"rid",9]}')).toBeUndefined();
    expect(scan('{"t":"ping","note":"\\\\","rid":3}')).toBe(3);
    expect(scan('{"t":"ping","rid":"9"}')).toBeUndefined();
    expect(scan('{"t":"ping","x":"rid","rid":4}')).toBe(4);
  });

  it('answers undefined for what is not a frame with a plain integer rid', () => {
    for (const text of [
      '',
      '[{"rid":1}]',
      '"rid":1',
      '{"rid":1',
      '{"rid":-1}',
      '{"rid":1.5}',
      '{"rid":1e3}',
      // Past the protocol's range (2^53 - 1): not a rid any request has.
      '{"rid":9007199254740992}',
      '{"rid":9999999999999999}',
      '{"rid":12345678901234567}',
      '{"r\\u0069d":1}',
      '{"t":"ping","note":"unterminated,"rid":1}',
      '{"t":"x"}',
      '{}',
    ]) {
      expect(scan(text), text).toBeUndefined();
    }
  });

  it('in a frame over RID_SCAN_BYTES, finds a rid among its first bytes or as its last member only', () => {
    const rows = `"rows":["${'A'.repeat(RID_SCAN_BYTES)}"]`;
    expect(scan(`{"rid":5,"t":"push",${rows}}`)).toBe(5);
    expect(scan(`{"t":"push",${rows},"rid":5}`)).toBe(5);
    expect(scan(`{"t":"push",${rows} , "rid" : 5 }\n`)).toBe(5);
    // Past the scanned bytes and not last: not looked for.
    expect(scan(`{"t":"push",${rows},"rid":5,"x":1}`)).toBeUndefined();
    // Ends like a rid without being the frame's own member.
    expect(scan(`{"t":"push",${rows},"x":{"rid":5}}`)).toBeUndefined();
    expect(scan(`{"t":"push",${rows},"x":"\\"rid":5}`)).toBeUndefined();
    expect(scan(`{"t":"push",${rows},"rid":"5"}`)).toBeUndefined();
    expect(scan(`{"t":"push",${rows},"rid":90071992547409910}`)).toBeUndefined();
    expect(scan(`[${rows},"rid":5}`)).toBeUndefined();
  });

  // decodeClientFrame refuses a repeated member name and names no request when `rid` is the name repeated:
  // a refusal naming either copy would answer a request the client may still wait on under that rid.
  it('answers undefined for a repeated top-level rid, within the scanned bytes or first and last', () => {
    expect(scan('{"t":"ping","rid":1,"rid":2}')).toBeUndefined();
    expect(scan('{"rid":1,"t":"ping","rid":1}')).toBeUndefined();
    expect(scan('{"rid":1,"x":{"rid":2},"y":"\\"rid\\":3"}')).toBe(1);
    const rows = `"rows":["${'A'.repeat(RID_SCAN_BYTES)}"]`;
    expect(scan(`{"rid":5,"t":"push",${rows},"rid":6}`)).toBeUndefined();
    expect(scan(`{"rid":5,"rid":6,"t":"push",${rows}}`)).toBeUndefined();
    // One rid whose member straddles the end of the scanned bytes and is the frame's last is one rid.
    const pad = 'B'.repeat(RID_SCAN_BYTES - 30);
    for (let shift = 0; shift < 40; shift++) {
      const text = `{"t":"push","x":"${pad}${'C'.repeat(shift)}","rid":77}`;
      expect(scan(text), String(shift)).toBe(77);
    }
  });

  // A member named rid within the scanned bytes whose value they cut is a copy found, as one they hold whole.
  it('answers undefined for a rid whose value the scanned bytes cut and another one last', () => {
    const pad = 'B'.repeat(RID_SCAN_BYTES - 50);
    const rows = `"rows":["${'A'.repeat(RID_SCAN_BYTES)}"]`;
    const named = [];
    for (let shift = 0; shift < 40; shift++) {
      const head = `{"t":"push","x":"${pad}${'C'.repeat(shift)}",`;
      const text = `${head}"rid" : 123456789,${rows},"rid":6}`;
      // Only where the name is whole within the scanned bytes and its value is not.
      if (head.length + 5 > RID_SCAN_BYTES || head.length + 18 <= RID_SCAN_BYTES) continue;
      named.push(shift);
      expect(scan(text), String(shift)).toBeUndefined();
    }
    expect(named.length).toBeGreaterThan(10);
  });

  it('agrees with JSON.parse on generated frames', () => {
    let seed = 1;
    const random = (): number => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const strings = ['rid', '"rid":1', '\\', '{[', 'ü', '', ',"rid":2}'];
    const value = (depth: number): unknown => {
      const r = random();
      if (depth > 3 || r < 0.3) return strings[Math.floor(random() * strings.length)];
      if (r < 0.4) return Math.floor(random() * 1000);
      if (r < 0.5) return null;
      if (r < 0.7) return Array.from({ length: Math.floor(random() * 3) }, () => value(depth + 1));
      return Object.fromEntries(
        Array.from({ length: Math.floor(random() * 3) }, (_, i) => [
          i % 2 ? 'rid' : `k${i}`,
          value(depth + 1),
        ]),
      );
    };
    for (let n = 0; n < 2_000; n++) {
      const members: Array<[string, unknown]> = Array.from({ length: Math.floor(random() * 4) }, (_, i) => [
        `m${i}`,
        value(0),
      ]);
      const rid = n % 3 === 0 ? undefined : Math.floor(random() * 1e9);
      if (rid !== undefined) members.splice(Math.floor(random() * (members.length + 1)), 0, ['rid', rid]);
      const text = JSON.stringify(Object.fromEntries(members));
      expect(scan(text), text).toBe(rid);
    }
  });
});
