// The two surfaces and their documents: `@hale/client` (index.ts) is what an app calls, every value of it
// named in the guide (docs/client-api.md); `@hale/client/advanced` is the parts a session is built from,
// every value named in the reference (docs/client-advanced.md). None of those parts is reachable from the
// public surface: public-surface.type-test.ts checks that at type level, this file at run time.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import * as api from './index';
import * as advanced from './advanced';

const read = (name: string): string =>
  readFileSync(new URL(`../../../docs/${name}`, import.meta.url), 'utf8');
const guide = read('client-api.md');
const reference = read('client-advanced.md');
// As a word of its own anywhere (prose, code spans, code blocks): `createRecords` inside `createRecordsX` does not count.
const namedIn =
  (doc: string) =>
  (name: string): boolean =>
    new RegExp(`(?<![\\w$])${name.replace(/\$/g, '\\$')}(?![\\w$])`).test(doc);

describe('docs/client-api.md, the guide', () => {
  it('names every value @hale/client exports', () => {
    expect(Object.keys(api).filter((name) => !namedIn(guide)(name))).toEqual([]);
  });

  it('names every account, audit and file error code an app switches on', () => {
    const codes = [...api.ACCOUNT_ERROR_CODES, ...api.AUDIT_ERROR_CODES, ...api.FILE_ERROR_CODES];
    expect(codes.filter((code) => !namedIn(guide)(code) && !namedIn(reference)(code))).toEqual([]);
  });
});

describe('docs/client-advanced.md, the reference', () => {
  it('names every value @hale/client/advanced exports', () => {
    expect(Object.keys(advanced).filter((name) => !namedIn(reference)(name))).toEqual([]);
  });

  it('names every at-rest and audit error code', () => {
    const codes = [...advanced.AT_REST_ERROR_CODES, ...advanced.AUDIT_ERROR_CODES];
    expect(codes.filter((code) => !namedIn(reference)(code))).toEqual([]);
  });
});

describe('@hale/client, the public surface', () => {
  it('exports none of the parts a session is built from', () => {
    const internals = [
      'openDeviceSession',
      'createSyncEngine',
      'createConnection',
      'createKeyring',
      'createConsent',
      'createAuditLog',
      'createRecords',
      'createFiles',
      'openDeviceDb',
      'createWorkerOffload',
      'runCryptoJob',
      'wrapWithAtRestEncryption',
      'createHttpApi',
    ];
    expect(internals.filter((name) => name in advanced)).toEqual(internals);
    expect(internals.filter((name) => name in api)).toEqual([]);
  });

  it('is small: an app reads it in one sitting', () => {
    expect(Object.keys(api).length).toBeLessThan(40);
  });
});
