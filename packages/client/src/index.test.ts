// docs/client-api.md is the public API's documentation: every value the package exports is named there.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import * as api from './index';

const doc = readFileSync(new URL('../../../docs/client-api.md', import.meta.url), 'utf8');
// As a word of its own anywhere (prose, code spans, code blocks): `createRecords` inside `createRecordsX` does not count.
const named = (name: string): boolean =>
  new RegExp(`(?<![\\w$])${name.replace(/\$/g, '\\$')}(?![\\w$])`).test(doc);

describe('docs/client-api.md', () => {
  it('names every value @hale/client exports', () => {
    const missing = Object.keys(api).filter((name) => !named(name));
    expect(missing).toEqual([]);
  });

  it('names every at-rest error code', () => {
    expect(api.AT_REST_ERROR_CODES.filter((code) => !named(code))).toEqual([]);
  });

  it('names every audit error code', () => {
    expect(api.AUDIT_ERROR_CODES.filter((code) => !named(code))).toEqual([]);
  });
});
