// Deleting an account (POST /v1/accounts/me/delete) on two stateless nodes over one CouchDB-protocol server
// (pouchdb-server): only the account itself may (another account, a session naming another account, no
// session, a care team's account: refused through either node, nothing erased); the erase through node A
// closes the account's live connection on node B (the erase's revocation event, waited for, not timed);
// afterwards neither node authenticates its devices or serves its account, login, records or files, its
// grantee's pull is denied, and the other patient keeps everything.
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { MIN_CHUNK_BYTES, type PulledFrame } from '@hale/protocol';
import { newId } from '@hale/model';
import {
  addDevice,
  createBlob,
  digestOf,
  http,
  makeAuditDoc,
  makeDoc,
  makeGrant,
  outcomeOf,
  pushNew,
  putChunk,
  registerAccount,
  sessionToken,
  streamOf,
} from '@hale/sync-server/testing';
import type { CouchNode } from '@hale/sync-server/testing/couch';
import { useCouchCluster } from './support';

const cluster = useCouchCluster();

describe('account deletion across CouchDB nodes', () => {
  it('only the account itself, through any node; afterwards no node knows it, others keep theirs', async () => {
    const [a, b] = await cluster.startNodes(2, 'erase');
    const del = (node: CouchNode, token: string | undefined, accountId: string) =>
      http(node.url, 'POST', '/v1/accounts/me/delete', { accountId }, token);

    const patient = await registerAccount(a);
    const second = await addDevice(a, patient);
    const provider = await registerAccount(b, 'provider');
    const other = await registerAccount(b);

    // The patient's chart, written through node B: a record, an audit entry, a grant, a file.
    const p = await cluster.open(b, patient.device);
    const record = await makeDoc(patient, patient.device, 'allergy', { substance: 'Latex' });
    const audit = await makeAuditDoc(patient, patient.device);
    expect((await pushNew(p, [record, audit])).map(outcomeOf)).toEqual(['ok', 'ok']);
    const grant = await makeGrant(patient, provider, [{ type: 'allergy', access: 'read' }]);
    expect((await p.request({ t: 'grant', rid: p.rid(), grant })).t).toBe('ok');
    const token = await sessionToken(a, patient.device);
    const chunk = new Uint8Array(randomBytes(MIN_CHUNK_BYTES + 40));
    const blobId = newId();
    const manifest = {
      blobId,
      stream: streamOf(patient.accountId, 'document'),
      size: MIN_CHUNK_BYTES,
      chunkSize: MIN_CHUNK_BYTES,
      chunkCount: 1,
      digests: [digestOf(chunk)],
    };
    expect((await createBlob(a, token, manifest)).status).toBe(200);
    expect((await putChunk(a, token, blobId, 0, chunk)).status).toBe(200);
    const o = await cluster.open(a, other.device);
    const kept = await makeDoc(other, other.device, 'allergy', { substance: 'Dust' });
    expect((await pushNew(o, [kept])).map(outcomeOf)).toEqual(['ok']);

    // Refused through either node, nothing erased: another account; naming another; no session; a care team.
    const otherToken = await sessionToken(b, other.device);
    const providerToken = await sessionToken(a, provider.device);
    for (const node of [a, b]) {
      expect(await del(node, otherToken, patient.accountId)).toMatchObject({
        status: 403,
        body: { code: 'FORBIDDEN' },
      });
      expect(await del(node, token, other.accountId)).toMatchObject({
        status: 403,
        body: { code: 'FORBIDDEN' },
      });
      expect(await del(node, undefined, patient.accountId)).toMatchObject({
        status: 401,
        body: { code: 'UNAUTHENTICATED' },
      });
      expect(await del(node, providerToken, provider.accountId)).toMatchObject({
        status: 403,
        body: { code: 'FORBIDDEN' },
      });
    }
    expect((await http(b.url, 'GET', `/v1/accounts/${patient.accountId}`)).status).toBe(200);
    expect(
      (await b.store.docs.readDocs(streamOf(patient.accountId, 'allergy'), 0, 10, 1 << 20)).docs,
    ).toHaveLength(1);

    // The account itself, through node A; its connection on node B closes.
    const done = await del(a, token, patient.accountId);
    expect(done).toMatchObject({
      status: 200,
      body: { accountId: patient.accountId, docs: 2, blobs: 1, grants: 1, devices: 2 },
    });
    expect((await p.closed).reason).toMatch(/revoked|deleted/);

    // Neither node knows it.
    for (const node of [a, b]) {
      expect((await http(node.url, 'GET', `/v1/accounts/${patient.accountId}`)).status).toBe(404);
      expect((await http(node.url, 'POST', '/v1/join', { loginName: patient.loginName })).status).toBe(404);
      expect(await http(node.url, 'GET', `/v1/blobs/${blobId}`, undefined, token)).toMatchObject({
        status: 401,
      });
      expect(await del(node, token, patient.accountId)).toMatchObject({ status: 401 });
      await expect(sessionToken(node, patient.device)).rejects.toThrow(/401.*unknown device/);
      await expect(sessionToken(node, second)).rejects.toThrow(/401.*unknown device/);
    }
    const d = await cluster.open(b, provider.device);
    const pulled = await d.request<PulledFrame>({
      t: 'pull',
      rid: d.rid(),
      streams: [{ stream: streamOf(patient.accountId, 'allergy'), since: 0 }],
      limit: 10,
      maxBytes: 1 << 20,
    });
    expect(pulled.docs).toEqual([]);
    expect(pulled.denied.map((x) => x.code)).toEqual(['NO_CONSENT']);

    // The other patient keeps everything.
    const again = await o.request<PulledFrame>({
      t: 'pull',
      rid: o.rid(),
      streams: [{ stream: streamOf(other.accountId, 'allergy'), since: 0 }],
      limit: 10,
      maxBytes: 1 << 20,
    });
    expect(again.docs.map((x) => x.id)).toEqual([kept.id]);
  }, 90_000);
});
