// No plaintext at rest: after records, tombstones, grants, envelopes, blobs, a passphrase change, a device
// rename and shared links (one sealed by the device, one sent in clear as an app from before sealing did,
// each opened by named viewers) went through the server, no byte sequence of any record or blob plaintext
// marker, device name, passphrase, recovery key, root secret or key, link label, viewer name or link
// record count appears in any file of the data directory (main file, -wal and -shm), while the server runs
// and after it stopped, nor in what it logged (at trace); nor, of the links, in the CouchDB store's
// documents and its log.
import { randomBytes, randomUUID } from 'node:crypto';
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
  openLinkDetails,
  sealBytes,
  wrapRootWithPassphrase,
} from '@hale/crypto';
import { newId } from '@hale/model';
import type { ShlAccessesResponse, ShlListResponse } from '@hale/protocol';
import { createLogger } from './logger';
import { createLink } from './shl-links.test-util';
import { startCouchNode, startPouchServer } from './testing/couch';
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
  type Endpoint,
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

/**
 * Two shared links on `t`, one sealed by the device and one sent as an app from before sealing sent it
 * (label and counts in clear, sealed by the server on receipt), each opened by named viewers (a wrong
 * passcode too), then listed with their accesses and events: what must be stored and logged only sealed
 * (`secrets`: labels, viewer names, each count as it would sit in JSON), and the sealed forms the server
 * answered (`controls`, which the store must hold).
 */
const linkStory = async (t: Endpoint) => {
  const labels = [marker('link-label'), marker('old-app-link-label')];
  const viewers = [marker('viewer'), marker('guessing-viewer'), marker('old-app-viewer')];
  const sealed = await createLink(t, {
    label: labels[0]!,
    passcode: '4711',
    contents: [
      { type: 'allergy', count: 7193 },
      { type: 'medication', count: 6287 },
    ],
  });
  const legacy = await createLink(t, {
    label: labels[1]!,
    legacy: true,
    contents: [{ type: 'condition', count: 5821 }],
  });
  const ask = (token: string, body: object) => http(t.url, 'POST', `/shl/${token}`, body);
  expect((await ask(sealed.token, { recipient: viewers[0], passcode: '4711' })).status).toBe(200);
  expect((await ask(sealed.token, { recipient: viewers[1], passcode: '0000' })).status).toBe(401);
  expect((await ask(legacy.token, { recipient: viewers[2] })).status).toBe(200);
  const controls: string[] = [];
  for (const [link, label] of [
    [sealed, labels[0]],
    [legacy, labels[1]],
  ] as const) {
    const listed = await http(t.url, 'GET', '/v1/shl', undefined, link.patientToken);
    const [info] = (listed.body as ShlListResponse).links;
    expect(info?.types?.length).toBeGreaterThan(0);
    expect(info?.contents).toEqual([]);
    expect(info).not.toHaveProperty('label');
    controls.push(info?.sealed ?? 'no sealed details');
    // Sealed by the device, or by the server on receipt: the patient's key opens the label either way.
    const details = openLinkDetails(info?.sealed ?? '', link.patient.keys.wrapping, link.linkId);
    expect(details.ok && (JSON.parse(details.value) as { label?: string }).label).toBe(label);
    const log = await http(t.url, 'GET', `/v1/shl/${link.linkId}/accesses`, undefined, link.patientToken);
    for (const a of (log.body as ShlAccessesResponse).accesses) {
      expect(a.recipient).toBe('');
      controls.push(a.sealedRecipient ?? 'no sealed recipient');
    }
    const since = encodeURIComponent('1970-01-01T00:00:00.000Z');
    const events = await http(t.url, 'GET', `/v1/shl/events?since=${since}`, undefined, link.patientToken);
    expect(events.status).toBe(200);
  }
  return {
    secrets: [...labels, ...viewers, '"count":7193', '"count":6287', '"count":5821'],
    controls,
  };
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

const text = (s: string) => new TextEncoder().encode(s);

describe('no plaintext at rest', () => {
  let t: TestServer;
  let patient: TestAccount;
  const secrets = new Map<string, Uint8Array>();
  /** Routing metadata the server must store: proves the scan reads what was written. */
  const controls = new Map<string, Uint8Array>();
  const logs: string[] = [];

  beforeAll(async () => {
    t = await startServer({
      logger: createLogger('trace', { write: (line: string) => void logs.push(line) }),
    });
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

    const links = await linkStory(t);
    for (const [i, m] of links.secrets.entries()) secrets.set(`link secret ${i} (${m})`, text(m));
    for (const [i, c] of links.controls.entries()) controls.set(`sealed link field ${i}`, text(c));

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
        ...[...controls.keys()].filter((k) => k.startsWith('sealed link field')),
      ]),
    );
  });

  it('finds none in what the server logged', () => {
    const log = logs.join('\n');
    expect(logs.length).toBeGreaterThan(0);
    expect([...secrets].filter(([, needle]) => log.includes(new TextDecoder().decode(needle)))).toEqual([]);
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

describe('no plaintext of shared links in the CouchDB store', () => {
  it('finds no label, viewer name or count in any document, nor in what the server logged', async () => {
    const couch = await startPouchServer({ inMemory: true });
    const logs: string[] = [];
    const node = await startCouchNode(couch.url, `scan-${randomUUID()}`, {
      logger: createLogger('trace', { write: (line: string) => void logs.push(line) }),
    });
    try {
      const { secrets, controls } = await linkStory(node);
      const databases = (await (await fetch(`${couch.url}/_all_dbs`)).json()) as string[];
      let docs = '';
      for (const db of databases) {
        const all = await fetch(`${couch.url}/${encodeURIComponent(db)}/_all_docs?include_docs=true`);
        docs += await all.text();
      }
      expect(databases.length).toBeGreaterThan(0);
      expect(secrets.filter((needle) => docs.includes(needle))).toEqual([]);
      expect(controls.filter((needle) => !docs.includes(needle))).toEqual([]);
      const log = logs.join('\n');
      expect(logs.length).toBeGreaterThan(0);
      expect(secrets.filter((needle) => log.includes(needle))).toEqual([]);
    } finally {
      await node.stop();
      await couch.stop();
    }
  }, 60_000);
});
