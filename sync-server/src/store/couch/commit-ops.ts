/*
 * Where a commit document (log.ts) keeps its ops: in an attachment `ops` (JSON), so that every later
 * revision of the commit (the applied mark) and every read that does not apply it (a tail read, the
 * `_changes` feed, a transaction's parts) carries a stub of a few bytes instead of the batch's documents.
 *
 * | form                         | written by                    | read by `opsOf` as                          |
 * | ---------------------------- | ----------------------------- | ------------------------------------------- |
 * | `_attachments.ops` with data | `withOps` (a new commit)      | the data, decoded                           |
 * | `_attachments.ops` stub      | CouchDB on a read without it  | the attachment of that very revision, read  |
 *
 * Invariants:
 * - A commit's ops never change: the attachment is written with the commit's first revision, and each
 *   later revision (`stubbed`) names it by digest (`md5-` + base64, as CouchDB and PouchDB compute it), so
 *   CouchDB keeps it; a stub of a digest it does not hold is refused (412), never stored empty.
 * - The ops of a leaf are read at its own `_rev` (a conflicted commit's leaves differ).
 * - This instance's own commits keep their ops in memory (`known`): applying one reads nothing back.
 * Failure modes: as db.ts (UNAVAILABLE when CouchDB cannot be reached); an attachment that does not parse
 * as ops → INTERNAL (a damaged log, not an input).
 */
import { createHash } from 'node:crypto';
import { StoreError } from '../types';
import { toStoreError, type CouchDoc, type Db } from './db';
import type { Op } from './ops';

const NAME = 'ops';
const TYPE = 'application/json';

interface Attachment {
  content_type?: string;
  data?: string;
  digest?: string;
  stub?: boolean;
}

/** Ops of commits this instance made, by document object (the object the commit was created from). */
const known = new WeakMap<CouchDoc, Op[]>();

const attachmentOf = (doc: CouchDoc): Attachment | undefined =>
  (doc._attachments as Record<string, Attachment> | undefined)?.[NAME];

/** `doc` (a new commit) with `ops` as its attachment; the ops are remembered for `opsOf`. */
export const withOps = <T extends CouchDoc>(doc: T, ops: Op[]): T => {
  const bytes = Buffer.from(JSON.stringify(ops));
  const digest = `md5-${createHash('md5').update(bytes).digest('base64')}`;
  const next = {
    ...doc,
    _attachments: { [NAME]: { content_type: TYPE, data: bytes.toString('base64'), digest } },
  };
  known.set(next, ops);
  return next;
};

/** A later revision of `doc`'s body: its ops attachment as a stub (kept by CouchDB, not sent again). */
export const stubbed = <T extends CouchDoc>(doc: T): T => {
  const att = attachmentOf(doc);
  if (att === undefined) return doc;
  return {
    ...doc,
    _attachments: { [NAME]: { stub: true, content_type: att.content_type ?? TYPE, digest: att.digest } },
  };
};

const parse = (text: string, id: string): Op[] => {
  let ops: unknown;
  try {
    ops = JSON.parse(text);
  } catch (error) {
    throw new StoreError('INTERNAL', `commit ${id} holds ops that do not parse`, { cause: error });
  }
  if (!Array.isArray(ops)) throw new StoreError('INTERNAL', `commit ${id} holds no list of ops`);
  return ops as Op[];
};

/** The ops of commit `doc` (the revision read), reading its attachment when only a stub was read. */
export const opsOf = async (log: Db, doc: CouchDoc): Promise<Op[]> => {
  const mine = known.get(doc);
  if (mine !== undefined) return mine;
  const att = attachmentOf(doc);
  if (att === undefined) return [];
  if (typeof att.data === 'string') return parse(Buffer.from(att.data, 'base64').toString('utf8'), doc._id);
  let body: Buffer;
  try {
    const got = await log.raw.getAttachment(doc._id, NAME, { rev: doc._rev });
    body = Buffer.isBuffer(got) ? got : Buffer.from(await got.arrayBuffer());
  } catch (error) {
    throw toStoreError(error, 'a read of a commit');
  }
  return parse(body.toString('utf8'), doc._id);
};
