import { describe, expect, it } from 'vitest';
import { Kind, TypeGuard, type TSchema } from '@sinclair/typebox';
import { validate } from './codec';
import { GRANT_ID, RECORD, b64, blobBody, registerBody } from './examples.test-util';
import {
  HTTP_ROUTES,
  HttpAccountResponse,
  HttpAccountsLookupRequest,
  MAX_ACCOUNT_LOOKUP_ANSWER_BYTES,
  MAX_ACCOUNTS_PER_LOOKUP,
  HttpBlobChunkParams,
  HttpBlobCreateRequest,
  HttpDirectoryQuery,
  HttpErrorBody,
  HttpJoinRequest,
  HttpRegisterRequest,
} from './http-api';
import { MAX_BLOB_BYTES } from './limits';
import { MAX_SEALED_DEVICE_NAME_BYTES } from './identity';

const issuePaths = (result: ReturnType<typeof validate>): string[] =>
  result.ok ? [] : result.error.details.issues.map((issue) => issue.path);

describe('HTTP bodies', () => {
  it('accepts a valid registration with scrypt or argon2id parameters', () => {
    expect(validate(HttpRegisterRequest, registerBody()).ok).toBe(true);
    const body = registerBody();
    const argon = {
      ...body,
      account: {
        ...body.account,
        wrappedRoot: {
          ...body.account.wrappedRoot,
          kdf: { alg: 'argon2id', m: 65536, t: 3, p: 1, dkLen: 32, salt: b64(16) },
        },
      },
    };
    expect(validate(HttpRegisterRequest, argon).ok).toBe(true);
  });

  it('names the missing KDF parameter of the chosen algorithm', () => {
    const body = registerBody();
    const { N: _n, ...kdf } = body.account.wrappedRoot.kdf as { N: number };
    const broken = {
      ...body,
      account: { ...body.account, wrappedRoot: { ...body.account.wrappedRoot, kdf } },
    };
    const result = validate(HttpRegisterRequest, broken);
    expect(issuePaths(result)).toContain('/account/wrappedRoot/kdf/N');
  });

  it('refuses a device certificate for another account or identity key', () => {
    const body = registerBody();
    const other = {
      ...body,
      device: { ...body.device, cert: { ...body.device.cert, accountId: 'SomeoneElse_0123456789' } },
    };
    expect(issuePaths(validate(HttpRegisterRequest, other))).toContain('/device/cert/accountId');
    const key = {
      ...body,
      device: { ...body.device, cert: { ...body.device.cert, identityPublicKey: b64(32, 'z') } },
    };
    expect(issuePaths(validate(HttpRegisterRequest, key))).toContain('/device/cert/identityPublicKey');
  });

  it('refuses upper-case or too-short login names', () => {
    expect(validate(HttpJoinRequest, { loginName: 'alice' }).ok).toBe(true);
    for (const loginName of ['Alice', 'al', '.alice', 'alice smith', 'a'.repeat(65)]) {
      expect(validate(HttpJoinRequest, { loginName }).ok, loginName).toBe(false);
    }
  });

  it('checks blob manifests: chunk count from size, one digest per chunk, size cap', () => {
    expect(validate(HttpBlobCreateRequest, blobBody()).ok).toBe(true);
    expect(
      validate(HttpBlobCreateRequest, { ...blobBody(), size: 0, chunkCount: 1, digests: [b64(32)] }).ok,
    ).toBe(true);
    expect(issuePaths(validate(HttpBlobCreateRequest, { ...blobBody(), chunkCount: 3 }))).toContain(
      '/chunkCount',
    );
    expect(issuePaths(validate(HttpBlobCreateRequest, { ...blobBody(), digests: [b64(32)] }))).toContain(
      '/digests',
    );
    const tooBig = validate(HttpBlobCreateRequest, { ...blobBody(), size: MAX_BLOB_BYTES + 1 });
    expect(issuePaths(tooBig)).toContain('/size');
  });

  it('bounds query and path parameters', () => {
    expect(validate(HttpDirectoryQuery, { q: 'cardio', limit: 20 }).ok).toBe(true);
    expect(validate(HttpDirectoryQuery, {}).ok).toBe(true);
    expect(validate(HttpDirectoryQuery, { limit: 101 }).ok).toBe(false);
    expect(validate(HttpBlobChunkParams, { blobId: RECORD, index: 3 }).ok).toBe(true);
    expect(validate(HttpBlobChunkParams, { blobId: GRANT_ID, index: -1 }).ok).toBe(false);
  });

  it('error bodies carry a code, a message and optional details', () => {
    expect(validate(HttpErrorBody, { code: 'NOT_FOUND', message: 'no' }).ok).toBe(true);
    expect(validate(HttpErrorBody, { code: 'not found', message: 'no' }).ok).toBe(false);
  });
});

describe('HTTP_ROUTES', () => {
  const routes = Object.values(HTTP_ROUTES);
  const isSchema = (value: unknown): value is TSchema =>
    typeof value === 'object' && value !== null && Kind in value;

  it('lists each method and URL once, all under /v1 except the health check', () => {
    const keys = routes.map((route) => `${route.method} ${route.url}`);
    expect(new Set(keys).size).toBe(keys.length);
    for (const route of routes) expect(route.url === '/healthz' || route.url.startsWith('/v1/')).toBe(true);
  });

  it('gives every route TypeBox schemas and HttpErrorBody for 4xx/5xx', () => {
    for (const route of routes) {
      const { schema } = route;
      for (const part of Object.values(schema)) {
        if (part === schema.response) continue;
        expect(isSchema(part)).toBe(true);
      }
      expect(schema.response['4xx']).toBe(HttpErrorBody);
      expect(schema.response['5xx']).toBe(HttpErrorBody);
      for (const response of Object.values(schema.response)) expect(isSchema(response)).toBe(true);
      // JSON Schema must serialise for Fastify/Ajv.
      expect(() => JSON.stringify(schema)).not.toThrow();
    }
  });

  it('names path parameters that the params schema declares', () => {
    for (const route of routes) {
      const names = [...route.url.matchAll(/:([A-Za-z]+)/g)].map((m) => m[1]);
      const params: unknown = 'params' in route.schema ? route.schema.params : undefined;
      const declared = TypeGuard.IsObject(params) ? Object.keys(params.properties) : [];
      expect(declared.sort(), route.url).toEqual(names.sort());
    }
  });
});

describe('account lookup bounds', () => {
  const id = (n: number) => String(n).padStart(22, 'A');

  it('takes up to MAX_ACCOUNTS_PER_LOOKUP distinct ids; more are a size refusal, a repeat a malformed one', () => {
    const ids = Array.from({ length: MAX_ACCOUNTS_PER_LOOKUP + 1 }, (_, i) => id(i));
    expect(validate(HttpAccountsLookupRequest, { accountIds: ids.slice(0, -1) }).ok).toBe(true);
    expect(validate(HttpAccountsLookupRequest, { accountIds: ids })).toMatchObject({
      ok: false,
      error: { code: 'TOO_LARGE' },
    });
    expect(validate(HttpAccountsLookupRequest, { accountIds: [id(1), id(1)] })).toMatchObject({
      ok: false,
      error: { code: 'BAD_MESSAGE' },
    });
  });

  it('fits the largest account answer the schema allows, twice over, in one lookup answer', () => {
    // Every field at its longest (a sealed name as long as its schema lets it be).
    const cert = (n: number) => ({
      v: 1 as const,
      cert: {
        accountId: id(0),
        deviceId: id(n),
        devicePublicKey: 'A'.repeat(43),
        identityPublicKey: 'A'.repeat(43),
        sealedName: 'A'.repeat(Math.ceil((MAX_SEALED_DEVICE_NAME_BYTES * 4) / 3)),
        createdAt: '2026-12-31T23:59:59.999Z',
      },
      sig: 'A'.repeat(86),
    });
    const widest = {
      accountId: id(0),
      role: 'provider' as const,
      identityPublicKey: 'A'.repeat(43),
      wrappingPublicKey: 'A'.repeat(43),
      wrappingKeySig: 'A'.repeat(86),
      devices: Array.from({ length: HttpAccountResponse.properties.devices.maxItems ?? 0 }, (_, n) =>
        cert(n),
      ),
      revokedDevices: Array.from(
        { length: HttpAccountResponse.properties.revokedDevices.maxItems ?? 0 },
        (_, n) => id(n),
      ),
    };
    expect(validate(HttpAccountResponse, widest).ok).toBe(true);
    expect(new TextEncoder().encode(JSON.stringify(widest)).length * 2).toBeLessThan(
      MAX_ACCOUNT_LOOKUP_ANSWER_BYTES,
    );
  });
});
