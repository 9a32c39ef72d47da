/**
 * Rules JSON Schema cannot state, checked after a value matched its schema.
 *
 * Invariants: each refinement receives a value already known to match its schema and never throws;
 * it returns issues (empty = valid). Issues all marked `tooLarge` make the failure TOO_LARGE
 * (split and resend) instead of BAD_MESSAGE (fix the request). Rules: stream lists name each stream
 * once; a push names each (stream, id) once and carries at most MAX_BATCH_BYTES of ciphertext; an
 * audit header appears exactly on `audit` documents; audit and clinical documents carry `sig`;
 * served documents come in strictly increasing seq per stream, each stream listed with a checkpoint
 * at or past its last document; a `head` page lists leaves by id strictly ascending, `next` its last; grants name each type once, for someone else, with start < expiry;
 * an error's `details` (frame or HTTP body) nest at most MAX_ERROR_DETAILS_DEPTH containers deep
 * (checked without recursion, so no depth the frame size allows can overflow the stack here); a
 * passphrase wrap's KDF parameters are ones @hale/crypto opens (`kdfIssues`: scrypt N a power of two,
 * memory and work caps; argon2id work), wherever a wrap crosses the wire.
 */
import type { Static, TSchema } from '@sinclair/typebox';
import { CLINICAL_STREAM_TYPES, type StreamType } from '@hale/model';
import type { CheckIssue, Issue } from './checker';
import { grantIssues } from './consent';
import { HttpAvailabilityPutRequest, HttpAvailabilityResponse, availabilityIssues } from './availability';
import { docBytes, type WireDoc } from './documents';
import {
  HttpBlobCreateRequest,
  HttpErrorBody,
  HttpRegisterRequest,
  HttpWrappedRootRequest,
  HttpWrappedRootState,
} from './http-api';
import { AccountRecord, WrappedRoot, kdfIssues } from './identity';
import { MAX_BATCH_BYTES } from './limits';
import {
  ChangesFrame,
  ErrorFrame,
  GrantFrame,
  GetEnvelopesFrame,
  HeadFrame,
  MAX_ERROR_DETAILS_DEPTH,
  PullFrame,
  PulledFrame,
  PushFrame,
  PutEnvelopesFrame,
  SubscribeFrame,
  UnsubscribeFrame,
} from './messages';
import { isStreamId, parseStreamId } from './primitives';

export type RefinementIssue = CheckIssue;

type Refinement<T extends TSchema> = (value: Static<T>) => RefinementIssue[];

const signedTypes: ReadonlySet<StreamType> = new Set<StreamType>([...CLINICAL_STREAM_TYPES, 'audit']);

function duplicates(keys: readonly string[], path: (index: number) => string, what: string): Issue[] {
  const seen = new Set<string>();
  const issues: Issue[] = [];
  keys.forEach((key, index) => {
    if (seen.has(key)) issues.push({ path: path(index), reason: `duplicate ${what}` });
    seen.add(key);
  });
  return issues;
}

/** Rules every document obeys, pushed or served. */
export function docIssues(doc: WireDoc, path: string): Issue[] {
  const issues: Issue[] = [];
  const parsed = parseStreamId(doc.stream);
  if (!parsed.ok) return [{ path: `${path}/stream`, reason: 'malformed stream id' }];
  const type = parsed.value.type;
  if (doc.ct.length % 4 === 1) issues.push({ path: `${path}/ct`, reason: 'not a base64url length' });
  if (type === 'audit' && doc.audit === undefined) {
    issues.push({ path: `${path}/audit`, reason: 'audit documents need an audit header' });
  }
  if (type !== 'audit' && doc.audit !== undefined) {
    issues.push({ path: `${path}/audit`, reason: 'only audit documents carry an audit header' });
  }
  if (signedTypes.has(type) && doc.sig === undefined) {
    issues.push({ path: `${path}/sig`, reason: `${type} documents must be signed by their author` });
  }
  return issues;
}

function batchBytesIssue(docs: readonly WireDoc[], path: string): RefinementIssue[] {
  let bytes = 0;
  for (const doc of docs) bytes += docBytes(doc);
  return bytes > MAX_BATCH_BYTES
    ? [
        {
          path,
          reason: `${bytes} ciphertext bytes exceed MAX_BATCH_BYTES (${MAX_BATCH_BYTES})`,
          tooLarge: true,
        },
      ]
    : [];
}

/** Served batches: seq strictly increasing per stream, every stream listed, checkpoint past its docs. */
function servedIssues(
  docs: readonly WireDoc[],
  streams: readonly { readonly stream: string; readonly checkpoint: number }[],
): RefinementIssue[] {
  const issues: RefinementIssue[] = [
    ...batchBytesIssue(docs, '/docs'),
    ...duplicates(
      streams.map((s) => s.stream),
      (i) => `/streams/${i}/stream`,
      'stream',
    ),
  ];
  const checkpoints = new Map(streams.map((s) => [s.stream, s.checkpoint]));
  const last = new Map<string, number>();
  docs.forEach((doc, index) => {
    const path = `/docs/${index}`;
    issues.push(...docIssues(doc, path));
    const seq = doc.seq ?? -1;
    const previous = last.get(doc.stream);
    if (previous !== undefined && seq <= previous) {
      issues.push({ path: `${path}/seq`, reason: `seq ${seq} does not follow ${previous} in its stream` });
    }
    last.set(doc.stream, seq);
    const checkpoint = checkpoints.get(doc.stream);
    if (checkpoint === undefined) {
      issues.push({ path: `${path}/stream`, reason: 'stream has no checkpoint entry' });
    } else if (checkpoint < seq) {
      issues.push({ path: `${path}/seq`, reason: `seq ${seq} is past the stream checkpoint ${checkpoint}` });
    }
  });
  return issues;
}

/** Whether `value` nests more than `limit` arrays and objects, itself included. Iterative: any depth. */
function nestsDeeperThan(value: unknown, limit: number): boolean {
  const pending: Array<{ readonly value: unknown; readonly depth: number }> = [{ value, depth: 1 }];
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    if (typeof next.value !== 'object' || next.value === null) continue;
    if (next.depth > limit) return true;
    for (const member of Object.values(next.value)) {
      if (typeof member === 'object' && member !== null)
        pending.push({ value: member, depth: next.depth + 1 });
    }
  }
  return false;
}

function errorDetailsIssues(details: Readonly<Record<string, unknown>> | undefined): Issue[] {
  return details !== undefined && nestsDeeperThan(details, MAX_ERROR_DETAILS_DEPTH)
    ? [{ path: '/details', reason: `nested deeper than ${MAX_ERROR_DETAILS_DEPTH} levels` }]
    : [];
}

const refinements = new Map<TSchema, Refinement<TSchema>>();

function refine<T extends TSchema>(schema: T, refinement: Refinement<T>): void {
  // The map is keyed by the schema object, so the refinement only ever sees values of that schema.
  refinements.set(schema, refinement as Refinement<TSchema>);
}

refine(PullFrame, (frame) =>
  duplicates(
    frame.streams.map((s) => s.stream),
    (i) => `/streams/${i}/stream`,
    'stream',
  ),
);
refine(SubscribeFrame, (frame) =>
  duplicates(
    frame.streams.map((s) => s.stream),
    (i) => `/streams/${i}/stream`,
    'stream',
  ),
);
refine(UnsubscribeFrame, (frame) => duplicates(frame.streams, (i) => `/streams/${i}`, 'stream'));
refine(GetEnvelopesFrame, (frame) => duplicates(frame.streams ?? [], (i) => `/streams/${i}`, 'stream'));
refine(PutEnvelopesFrame, (frame) =>
  duplicates(
    frame.envelopes.map((e) => `${e.stream} ${e.epoch} ${e.recipient}`),
    (i) => `/envelopes/${i}`,
    'envelope (stream, epoch, recipient)',
  ),
);
refine(PushFrame, (frame) => [
  ...batchBytesIssue(
    frame.rows.map((row) => row.doc),
    '/rows',
  ),
  ...duplicates(
    frame.rows.map((row) => `${row.doc.stream} ${row.doc.id}`),
    (i) => `/rows/${i}/doc/id`,
    'document (stream, id)',
  ),
  ...frame.rows.flatMap((row, i) => docIssues(row.doc, `/rows/${i}/doc`)),
]);
refine(GrantFrame, (frame) => grantIssues(frame.grant.grant, '/grant/grant'));
refine(PulledFrame, (frame) => [
  ...servedIssues(frame.docs, frame.streams),
  ...duplicates(
    frame.denied.map((d) => d.stream),
    (i) => `/denied/${i}/stream`,
    'stream',
  ),
]);
refine(ChangesFrame, (frame) => servedIssues(frame.docs, frame.streams));
refine(HeadFrame, (frame) => {
  const issues: Issue[] = [];
  frame.leaves.forEach((leaf, i) => {
    const before = frame.leaves[i - 1];
    if (before !== undefined && before.id >= leaf.id)
      issues.push({ path: `/leaves/${i}/id`, reason: 'leaves must be listed by id strictly ascending' });
  });
  const last = frame.leaves[frame.leaves.length - 1];
  if (frame.next !== undefined && frame.next !== last?.id)
    issues.push({ path: '/next', reason: "must be the id of the page's last leaf" });
  if (frame.signed !== undefined && frame.signed.head.stream !== frame.stream)
    issues.push({ path: '/signed/head/stream', reason: 'must be the stream asked for' });
  return issues;
});
refine(ErrorFrame, (frame) => errorDetailsIssues(frame.details));
refine(HttpErrorBody, (body) => errorDetailsIssues(body.details));
refine(HttpBlobCreateRequest, (body) => {
  const issues: Issue[] = [];
  const expected = Math.max(1, Math.ceil(body.size / body.chunkSize));
  if (body.chunkCount !== expected) {
    issues.push({ path: '/chunkCount', reason: `must be max(1, ceil(size / chunkSize)) = ${expected}` });
  }
  if (body.digests.length !== body.chunkCount) {
    issues.push({ path: '/digests', reason: 'must hold one digest per chunk' });
  }
  if (!isStreamId(body.stream)) issues.push({ path: '/stream', reason: 'malformed stream id' });
  return issues;
});
refine(HttpAvailabilityPutRequest, (body) => availabilityIssues(body.availability, '/availability'));
refine(HttpAvailabilityResponse, (body) => availabilityIssues(body.availability, '/availability'));
// Every schema that carries a passphrase wrap across the wire, so none is stored that no device opens.
refine(WrappedRoot, (wrap) => kdfIssues(wrap.kdf, '/kdf'));
refine(AccountRecord, (account) => kdfIssues(account.wrappedRoot.kdf, '/wrappedRoot/kdf'));
refine(HttpWrappedRootRequest, (body) => kdfIssues(body.wrappedRoot.kdf, '/wrappedRoot/kdf'));
refine(HttpWrappedRootState, (body) => kdfIssues(body.wrappedRoot.kdf, '/wrappedRoot/kdf'));
refine(HttpRegisterRequest, (body) => {
  const issues: Issue[] = kdfIssues(body.account.wrappedRoot.kdf, '/account/wrappedRoot/kdf');
  const { account, device } = body;
  if (device.cert.accountId !== account.accountId) {
    issues.push({ path: '/device/cert/accountId', reason: 'must equal account.accountId' });
  }
  if (device.cert.identityPublicKey !== account.identityPublicKey) {
    issues.push({ path: '/device/cert/identityPublicKey', reason: 'must equal account.identityPublicKey' });
  }
  return issues;
});

/** Issues of the rules registered for `schema` (none registered → none). Expects a schema-valid value. */
export function refinementIssues<T extends TSchema>(schema: T, value: Static<T>): RefinementIssue[] {
  const refinement = refinements.get(schema);
  return refinement === undefined ? [] : refinement(value);
}
