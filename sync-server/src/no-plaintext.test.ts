// No plaintext at rest: after records, tombstones, grants, envelopes, blobs, a passphrase change and a device
// rename went through the server, no byte sequence of any record or blob plaintext marker, device name,
// passphrase, recovery key, root secret or key appears in any file of the data directory (main file, -wal
// and -shm), while the server runs and after it stopped.
import { randomBytes } from 'node:crypto';
import { readdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { wrappedRootSignaturePayload, type PushDoc, type PushedFrame } from '@hale/protocol';
import {
  TEST_KDF,
  base64urlEncode,
  deriveInitialStreamKey,
  encodeRecoveryKey,
  generateStreamKey,
  hexEncode,
  sealBytes,
  wrapRootWithPassphrase,
} from '@hale/crypto';
import { newId } from '@hale/model';
import {
  TEST_PASSPHRASE,
  connect,
  createBlob,
  digestOf,
  http,
  makeDeviceName,
  makeDoc,
  makeEnvelope,
  makeGrant,
  putChunk,
  registerAccount,
  sessionToken,
  sign,
  startServer,
  streamOf,
  type TestAccount,
  type TestServer,
} from './testing/harness';

const marker = (what: string) => `HALE-PLAINTEXT-${what}-${randomBytes(6).toString('hex')}`;

const filesUnder = async (dir: string): Promise<string[]> => {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await filesUnder(full)));
    else if (entry.isFile()) out.push(full);
  }
  return out;
};

/** Every (file, needle name) where the needle's bytes occur. */
const scan = async (dir: string, needles: Map<string, Uint8Array>) => {
  const hits: string[] = [];
  const files = await filesUnder(dir);
  for (const file of files) {
    const bytes = await readFile(file);
    for (const [name, needle] of needles)
      if (bytes.indexOf(needle) !== -1) hits.push(`${name} in ${path.basename(file)}`);
  }
  return { files: files.map((f) => path.basename(f)).sort(), hits };
};

describe('no plaintext at rest', () => {
  let t: TestServer;
  let patient: TestAccount;
  const secrets = new Map<string, Uint8Array>();
  const text = (s: string) => new TextEncoder().encode(s);
  /** Routing metadata the server must store: proves the scan reads what was written. */
  const controls = new Map<string, Uint8Array>();

  beforeAll(async () => {
    t = await startServer();
    const firstPassphrase = marker('first-passphrase');
    patient = await registerAccount(t, 'patient', { passphrase: firstPassphrase });
    const provider = await registerAccount(t, 'provider');
    const ws = await connect(t, patient.device);

    // Records of several types, with markers in their plaintext, then a tombstone of one of them.
    const docs: PushDoc[] = [];
    const recordMarkers: string[] = [];
    for (const type of ['allergy', 'medication', 'note', 'lab-result', 'message', 'profile']) {
      const m = marker(type);
      recordMarkers.push(m);
      docs.push(await makeDoc(patient, patient.device, type, { kind: type, text: m, notes: `${m} ${m}` }));
    }
    const pushed = await ws.request<PushedFrame>({
      t: 'push',
      rid: ws.rid(),
      rows: docs.map((doc) => ({ doc, assumedRev: null })),
    });
    expect(pushed.results.every((r) => r.status === 'ok')).toBe(true);
    const tombMarker = marker('tombstone');
    recordMarkers.push(tombMarker);
    const tomb = await makeDoc(
      patient,
      patient.device,
      'allergy',
      { text: tombMarker },
      {
        id: docs[0]!.id,
        rv: 2,
        deleted: true,
      },
    );
    const deleted = await ws.request<PushedFrame>({
      t: 'push',
      rid: ws.rid(),
      rows: [{ doc: tomb, assumedRev: docs[0]!.rev }],
    });
    expect(deleted.results[0]?.status).toBe('ok');

    // A grant and envelopes: the epoch-0 key and a fresh epoch-1 key, wrapped for the provider.
    const grant = await makeGrant(patient, provider, [{ type: 'allergy', access: 'read' }], {
      now: t.clock.now,
    });
    expect((await ws.request({ t: 'grant', rid: ws.rid(), grant })).t).toBe('ok');
    const allergy = streamOf(patient.accountId, 'allergy');
    const epoch0 = deriveInitialStreamKey(patient.root, allergy);
    const epoch1 = generateStreamKey();
    const envelopes = [
      await makeEnvelope(patient, patient.device, provider, 'allergy', 0),
      await makeEnvelope(patient, patient.device, provider, 'allergy', 1, epoch1),
    ];
    expect((await ws.request({ t: 'putEnvelopes', rid: ws.rid(), envelopes })).t).toBe('ok');

    // A blob whose plaintext carries a marker in every chunk.
    const token = await sessionToken(t, patient.device);
    const docStream = streamOf(patient.accountId, 'document');
    const blobKey = deriveInitialStreamKey(patient.root, docStream);
    const blobMarker = marker('blob');
    const blobId = newId();
    const chunkSize = 64 * 1024;
    const plain = text(
      `${blobMarker}\n`.repeat(Math.ceil((2.5 * chunkSize) / (blobMarker.length + 1))),
    ).slice(0, Math.floor(2.5 * chunkSize));
    const chunks = [0, 1, 2].map((i) =>
      sealBytes(
        blobKey,
        { blobId, chunkIndex: i, epoch: 0 },
        plain.subarray(i * chunkSize, (i + 1) * chunkSize),
      ),
    );
    const manifest = {
      blobId,
      stream: docStream,
      size: plain.byteLength,
      chunkSize,
      chunkCount: 3,
      digests: chunks.map(digestOf),
    };
    expect((await createBlob(t, token, manifest)).status).toBe(200);
    for (const [i, c] of chunks.entries()) expect((await putChunk(t, token, blobId, i, c)).status).toBe(200);

    // A passphrase change: the server receives only the new wrapped root.
    const secondPassphrase = marker('second-passphrase');
    const wrappedRoot = (await wrapRootWithPassphrase(patient.root, secondPassphrase, TEST_KDF)) as never;
    const sig = await sign(
      patient.keys.identity.secretKey,
      wrappedRootSignaturePayload({ accountId: patient.accountId, wrappedRoot, gen: 1 }),
    );
    const changed = await http(
      t.url,
      'PUT',
      '/v1/accounts/me/wrapped-root',
      { wrappedRoot, gen: 1, sig },
      token,
    );
    expect(changed.status).toBe(200);

    // A device rename: the server receives the new name only sealed to the account.
    const deviceName = marker('device-name');
    const rename = await makeDeviceName(patient, patient.device.deviceId, deviceName, 1);
    expect((await http(t.url, 'POST', '/v1/devices/name', rename)).status).toBe(200);
    await ws.close();

    for (const [i, m] of recordMarkers.entries()) secrets.set(`record marker ${i}`, text(m));
    secrets.set('blob marker', text(blobMarker));
    secrets.set('device name', text(deviceName));
    for (const [name, p] of [
      ['first passphrase', firstPassphrase],
      ['second passphrase', secondPassphrase],
      ['harness passphrase', TEST_PASSPHRASE],
    ] as const) {
      secrets.set(name, text(p));
    }
    const recovery = encodeRecoveryKey(patient.root);
    secrets.set('recovery key', text(recovery));
    secrets.set('recovery key (no separators)', text(recovery.replace(/[^0-9A-Za-z]/g, '')));
    const binary: Array<[string, Uint8Array]> = [
      ['root secret', patient.root],
      ['identity secret key', patient.keys.identity.secretKey.subarray(0, 32)],
      ['wrapping secret key', patient.keys.wrapping.secretKey],
      ['local at-rest key', patient.keys.localKey],
      ['device secret key', patient.device.keys.secretKey.subarray(0, 32)],
      ['allergy key epoch 0', epoch0],
      ['allergy key epoch 1', epoch1],
      ['document key', blobKey],
    ];
    for (const [name, bytes] of binary) {
      secrets.set(`${name} (raw)`, bytes);
      secrets.set(`${name} (base64url)`, text(base64urlEncode(bytes)));
      secrets.set(`${name} (hex)`, text(hexEncode(bytes)));
    }
    controls.set('stream id', text(allergy));
    controls.set('account id', text(patient.accountId));
    // Large values span SQLite overflow pages, so the control looks for a prefix, not the whole chunk.
    controls.set('sealed chunk', chunks[1]!.subarray(0, 32));
    controls.set('sealed record', Buffer.from(docs[1]!.ct, 'base64url'));
    controls.set('wrapped epoch-1 key', text(envelopes[1]!.wrapped));
    controls.set('sealed device name', text(rename.name.sealedName));
  });

  afterAll(async () => {
    await t.stop({ keepData: true });
    await rm(t.dataDir, { recursive: true, force: true });
  });

  it('finds none while the server runs (write-ahead log included)', async () => {
    const { files, hits } = await scan(t.dataDir, secrets);
    expect(files).toEqual(expect.arrayContaining(['hale.sqlite', 'hale.sqlite-wal', 'hale.sqlite-shm']));
    expect(hits).toEqual([]);
    const control = await scan(t.dataDir, controls);
    expect(control.hits.map((h) => h.split(' in ')[0])).toEqual(
      expect.arrayContaining([
        'stream id',
        'account id',
        'sealed chunk',
        'sealed record',
        'wrapped epoch-1 key',
        'sealed device name',
      ]),
    );
  });

  it('finds none after the server stopped and the store checkpointed', async () => {
    await t.stop({ keepData: true });
    const { files, hits } = await scan(t.dataDir, secrets);
    expect(files).toContain('hale.sqlite');
    expect(hits).toEqual([]);
    const control = await scan(t.dataDir, controls);
    expect(new Set(control.hits.map((h) => h.split(' in ')[0]))).toEqual(new Set(controls.keys()));
  });
});
