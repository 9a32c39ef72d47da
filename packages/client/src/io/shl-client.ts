/**
 * SMART Health Links from a patient device (protocol/src/shl.ts), and opening one as any viewer does.
 *
 * | call | does |
 * |---|---|
 * | `createLink` | encrypts the content on the device (JWE `dir` + `A256GCM`, jose), stores the ciphertext on the sync server, answers the `shlink:/` link and the viewer URL |
 * | `listLinks`, `revokeLink`, `linkAccesses` | the patient's links, a revocation, a link's access log |
 * | `openLink` | follows the specification as a viewer: manifest (passcode), file, decryption |
 *
 * Invariants: the key is made here (32 random bytes) and leaves the device only inside the link's payload
 * (which a viewer page reads from the URL's fragment); the server gets the ciphertext, a token it keeps
 * only hashed, the passcode (to enforce it, kept as scrypt), the record types it logs openings under, and
 * the label and per-type counts only sealed to the account's wrapping key for the link id (`sealed`).
 * Listings and accesses are handed on opened (label, counts, the viewer's name, which the server seals on
 * receipt); one that does not open is handed on without them (`detailsUnreadable`,
 * `recipientUnreadable`), never failing the list. Every answer is checked against its schema.
 * Failure modes: RecordsIoError LINK_REFUSED (the server's refusal), LINK_NOT_FOUND, LINK_PASSCODE_WRONG
 * (`remainingAttempts`), LINK_INVALID.
 */
import { CompactEncrypt, compactDecrypt } from 'jose';
import {
  base64urlDecode,
  base64urlEncode,
  openLinkDetails,
  openLinkRecipient,
  randomBytes,
  sealLinkDetails,
  utf8Decode,
  utf8Encode,
} from '@hale/crypto';
import {
  MAX_SHL_DETAILS_CHARS,
  ShlAccessesResponse,
  ShlEventsResponse,
  ShlLinkDetails,
  ShlLinkInfo,
  ShlListResponse,
  ShlManifest,
  ShlPayload,
  validate,
  type GrantableStreamType,
  type ShlAccessInfo,
  type ShlCreateSealed,
} from '@hale/protocol';
import type { TSchema, Static } from '@sinclair/typebox';
import { RecordsIoError } from './io-error';
import { HaleClientError } from '../api/errors';
import type { RecordsIoDeps } from './records-io-deps';

export interface CreateLinkInput {
  /** The content: a FHIR resource (an IPS Bundle). */
  readonly content: unknown;
  readonly contents: readonly { readonly type: GrantableStreamType; readonly count: number }[];
  readonly label?: string;
  readonly passcode?: string;
  readonly expiresAt?: string;
  readonly emergency?: boolean;
  /** Opens once (the server revokes it at its first opening). */
  readonly oneTime?: boolean;
}

/** A link as the patient's devices list it: the server's record, its sealed details opened. */
export interface LinkInfo {
  readonly linkId: string;
  readonly label?: string;
  readonly passcode: boolean;
  readonly emergency: boolean;
  /** Present and true for a link that opens once (then revoked at its first opening). */
  readonly oneTime?: boolean;
  readonly createdAt: string;
  readonly expiresAt?: string;
  readonly revokedAt?: string;
  readonly attemptsLeft: number;
  readonly accessCount: number;
  readonly lastAccessAt?: string;
  /** Records per stream type the content holds. */
  readonly contents: readonly { readonly type: GrantableStreamType; readonly count: number }[];
  /** Its sealed label and counts did not open with this account's key: none are shown. */
  readonly detailsUnreadable?: true;
}

/** One access to a link, the name the viewer gave opened. */
export interface LinkAccessEntry {
  readonly at: string;
  readonly outcome: ShlAccessInfo['outcome'];
  /** What the viewer said it is; '' when it did not open (`recipientUnreadable`). */
  readonly recipient: string;
  readonly recipientUnreadable?: true;
}

/** An access to any of the patient's links, as `watchLinkAccess` tells it. */
export interface LinkAccess extends LinkAccessEntry {
  readonly linkId: string;
}

/** A SMART Health Link just created: its id and the `shlink:/…` a QR code carries. */
export interface CreatedLink {
  readonly linkId: string;
  /** `shlink:/…`, what a QR code carries. */
  readonly link: string;
  /** The server's viewer page opening it: `{server}/shl/view#shlink:/…`. */
  readonly viewerUrl: string;
  readonly info: LinkInfo;
}

/** The server's record of a link with its sealed details opened by this account's wrapping key. */
const opened = (deps: RecordsIoDeps, l: ShlLinkInfo): LinkInfo => {
  const { sealed, types: _types, label, contents, ...rest } = l;
  if (sealed === undefined)
    // Stored before sealing: the label and counts as the server kept them.
    return { ...rest, ...(label === undefined ? {} : { label }), contents };
  const text = openLinkDetails(sealed, deps.session.account.keys.wrapping, l.linkId);
  let details: unknown;
  try {
    details = text.ok ? JSON.parse(text.value) : undefined;
  } catch {
    details = undefined;
  }
  const checked = validate(ShlLinkDetails, details);
  if (!checked.ok) return { ...rest, contents: [], detailsUnreadable: true };
  return {
    ...rest,
    ...(checked.value.label === undefined ? {} : { label: checked.value.label }),
    contents: checked.value.contents,
  };
};

/** An access with the name the viewer gave opened (sealed by the server for link `linkId`). */
const openedAccess = (deps: RecordsIoDeps, linkId: string, a: ShlAccessInfo): LinkAccessEntry => {
  if (a.sealedRecipient === undefined) return { at: a.at, outcome: a.outcome, recipient: a.recipient };
  const name = openLinkRecipient(a.sealedRecipient, deps.session.account.keys.wrapping, linkId);
  return name.ok
    ? { at: a.at, outcome: a.outcome, recipient: name.value }
    : { at: a.at, outcome: a.outcome, recipient: '', recipientUnreadable: true };
};

const parse = async <S extends TSchema>(
  schema: S,
  response: { text(): Promise<string> },
): Promise<Static<S>> => {
  let body: unknown;
  try {
    body = JSON.parse(await response.text());
  } catch {
    throw new RecordsIoError('LINK_REFUSED', 'the server answered something that is not JSON');
  }
  const checked = validate(schema, body);
  if (!checked.ok)
    throw new RecordsIoError('LINK_REFUSED', `the server's answer is malformed: ${checked.error.message}`);
  return checked.value;
};

const refusal = async (response: { status: number; text(): Promise<string> }): Promise<RecordsIoError> => {
  const text = await response.text().catch(() => '');
  let message = text.slice(0, 300);
  try {
    const body = JSON.parse(text) as { code?: string; message?: string };
    message = `${body.code ?? ''}: ${body.message ?? ''}`;
  } catch {
    // keep the text
  }
  return new RecordsIoError('LINK_REFUSED', `the server refused (${response.status}) ${message}`, {
    status: response.status,
  });
};

const call = async <S extends TSchema>(
  deps: RecordsIoDeps,
  method: string,
  path: string,
  schema: S,
  body?: unknown,
  signal?: AbortSignal,
): Promise<Static<S>> =>
  deps.withToken(async (token) => {
    const response = await deps.fetch(`${deps.baseUrl.replace(/\/$/, '')}${path}`, {
      ...(signal === undefined ? {} : { signal }),
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      redirect: 'manual',
    });
    if (response.status === 401) {
      // The bearer session ended: withToken signs in again once on this code.
      const body = await response.text().catch(() => '');
      const code = /SESSION_EXPIRED/.test(body) ? 'SESSION_EXPIRED' : 'UNAUTHENTICATED';
      throw new HaleClientError({ code, message: `the server refused the session (${code})`, status: 401 });
    }
    if (response.status !== 200) throw await refusal(response);
    return parse(schema, response);
  });

/** Encrypts `content` on the device and shares it as a link (see the header). */
export async function createLink(deps: RecordsIoDeps, input: CreateLinkInput): Promise<CreatedLink> {
  const key = randomBytes(32);
  const token = base64urlEncode(randomBytes(32));
  const linkId = base64urlEncode(randomBytes(16));
  const jwe = await new CompactEncrypt(utf8Encode(JSON.stringify(input.content)))
    .setProtectedHeader({ alg: 'dir', enc: 'A256GCM', cty: 'application/fhir+json' })
    .encrypt(key);
  // The label and counts only sealed to this account, bound to the link id (see the header).
  const details = validate(ShlLinkDetails, {
    ...(input.label === undefined ? {} : { label: input.label }),
    contents: input.contents.map((c) => ({ type: c.type, count: c.count })),
  });
  const detailsText = details.ok ? JSON.stringify(details.value) : '';
  if (!details.ok || detailsText.length > MAX_SHL_DETAILS_CHARS)
    throw new RecordsIoError('LINK_INVALID', `the link's label or contents are malformed`);
  const request: ShlCreateSealed = {
    linkId,
    token,
    emergency: input.emergency ?? false,
    ...(input.oneTime === true ? { oneTime: true } : {}),
    types: [...new Set(input.contents.map((c) => c.type))],
    sealed: sealLinkDetails(detailsText, deps.session.account.keys.wrapping.publicKey, linkId),
    contentType: 'application/fhir+json',
    jwe,
    ...(input.passcode === undefined ? {} : { passcode: input.passcode }),
    ...(input.expiresAt === undefined ? {} : { expiresAt: input.expiresAt }),
  };
  const info = opened(deps, await call(deps, 'POST', '/v1/shl', ShlLinkInfo, request));
  const base = deps.baseUrl.replace(/\/$/, '');
  const flag = `${input.emergency === true ? 'L' : ''}${input.passcode === undefined ? '' : 'P'}`;
  const payload: ShlPayload = {
    url: `${base}/shl/${token}`,
    key: base64urlEncode(key),
    ...(input.expiresAt === undefined ? {} : { exp: Math.floor(Date.parse(input.expiresAt) / 1000) }),
    ...(flag === '' ? {} : { flag }),
    ...(input.label === undefined ? {} : { label: input.label }),
    v: 1,
  };
  key.fill(0);
  const link = `shlink:/${base64urlEncode(utf8Encode(JSON.stringify(payload)))}`;
  return { linkId, link, viewerUrl: `${base}/shl/view#${link}`, info };
}

/**
 * The SMART Health Links this account created.
 *
 * @throws `RecordsIoError` when the server refuses or cannot be reached.
 */
export const listLinks = async (deps: RecordsIoDeps): Promise<readonly LinkInfo[]> =>
  (await call(deps, 'GET', '/v1/shl', ShlListResponse)).links.map((l) => opened(deps, l));

/**
 * Ends a SMART Health Link: nobody can open it afterwards.
 *
 * @throws `RecordsIoError` when the server refuses or cannot be reached.
 */
export const revokeLink = async (deps: RecordsIoDeps, linkId: string): Promise<LinkInfo> =>
  opened(deps, await call(deps, 'DELETE', `/v1/shl/${encodeURIComponent(linkId)}`, ShlLinkInfo));

/**
 * Who opened a SMART Health Link, and when.
 *
 * @throws `RecordsIoError` when the server refuses or cannot be reached.
 */
export const linkAccesses = async (deps: RecordsIoDeps, linkId: string): Promise<LinkAccessEntry[]> =>
  (
    await call(deps, 'GET', `/v1/shl/${encodeURIComponent(linkId)}/accesses`, ShlAccessesResponse)
  ).accesses.map((a) => openedAccess(deps, linkId, a));

/**
 * Calls `listener` with each access to any of the patient's links from now on, as the server logs it (the
 * server holds each request until one comes, up to 25 s): the emergency card's notification. Answers the
 * stop. `onReady` is called once the server's time is known: accesses from then on are told. A failing
 * request is retried after `retryMs`; nothing is told twice.
 */
export function watchLinkAccess(
  deps: RecordsIoDeps,
  listener: (access: LinkAccess) => void,
  options: { retryMs?: number; onReady?: () => void } = {},
): () => void {
  let stopped = false;
  const abort = typeof AbortController === 'function' ? new AbortController() : undefined;
  const told = new Set<string>();
  const loop = async (): Promise<void> => {
    let since: string | undefined;
    while (!stopped) {
      try {
        if (since === undefined) {
          since = (
            await call(
              deps,
              'GET',
              `/v1/shl/events?since=${encodeURIComponent('1970-01-01T00:00:00.000Z')}`,
              ShlEventsResponse,
            )
          ).now;
          // The server's clock may read the same millisecond again: one before, deduplicated below.
          since = new Date(Date.parse(since) - 1).toISOString();
          options.onReady?.();
          continue;
        }
        const answer = await call(
          deps,
          'GET',
          `/v1/shl/events?since=${encodeURIComponent(since)}&waitMs=25000`,
          ShlEventsResponse,
          undefined,
          abort?.signal,
        );
        for (const access of answer.accesses) {
          const key = `${access.linkId}|${access.at}|${access.outcome}|${access.sealedRecipient ?? access.recipient}`;
          if (told.has(key) || stopped) continue;
          told.add(key);
          listener({ linkId: access.linkId, ...openedAccess(deps, access.linkId, access) });
        }
        const last = answer.accesses.at(-1);
        since = last === undefined ? new Date(Date.parse(answer.now) - 1).toISOString() : last.at;
      } catch {
        if (stopped) return;
        await new Promise((resolve) => setTimeout(resolve, options.retryMs ?? 5_000));
      }
    }
  };
  void loop();
  return () => {
    stopped = true;
    abort?.abort();
  };
}

/** The payload of a `shlink:/…` text (or a viewer URL holding one after `#`). */
export const decodeLink = (text: string): ShlPayload => {
  const at = text.indexOf('shlink:/');
  const encoded = at < 0 ? undefined : text.slice(at + 'shlink:/'.length);
  const bytes = encoded === undefined ? undefined : base64urlDecode(encoded);
  const json = bytes?.ok ? utf8Decode(bytes.value) : undefined;
  let value: unknown;
  try {
    value = json?.ok ? JSON.parse(json.value) : undefined;
  } catch {
    value = undefined;
  }
  const checked = validate(ShlPayload, value);
  if (!checked.ok) throw new RecordsIoError('LINK_INVALID', 'this is no SMART Health Link');
  return checked.value;
};

/** Opens a link as a viewer: the manifest (with `passcode`), the file, decrypted with the link's key. */
export async function openLink(
  fetchLike: RecordsIoDeps['fetch'],
  link: string,
  request: { recipient: string; passcode?: string; embeddedLengthMax?: number },
): Promise<unknown> {
  const payload = decodeLink(link);
  const response = await fetchLike(payload.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(request),
    redirect: 'manual',
  });
  if (response.status === 404) throw new RecordsIoError('LINK_NOT_FOUND', 'this link no longer works');
  if (response.status === 401) {
    const body = JSON.parse(await response.text()) as { remainingAttempts?: number };
    throw new RecordsIoError('LINK_PASSCODE_WRONG', 'wrong passcode', {
      ...(typeof body.remainingAttempts === 'number' ? { remainingAttempts: body.remainingAttempts } : {}),
    });
  }
  if (response.status !== 200) throw await refusal(response);
  const manifest = await parse(ShlManifest, response);
  const file = manifest.files[0];
  let jwe = file?.embedded;
  if (jwe === undefined && file?.location !== undefined) {
    const fetched = await fetchLike(file.location, { method: 'GET', headers: {}, redirect: 'manual' });
    if (fetched.status !== 200) throw new RecordsIoError('LINK_NOT_FOUND', 'the file of this link is gone');
    jwe = await fetched.text();
  }
  if (jwe === undefined) throw new RecordsIoError('LINK_INVALID', 'the manifest names no file');
  const key = base64urlDecode(payload.key);
  if (!key.ok) throw new RecordsIoError('LINK_INVALID', 'the link’s key is malformed');
  try {
    const { plaintext } = await compactDecrypt(jwe, key.value);
    return JSON.parse(new TextDecoder().decode(plaintext)) as unknown;
  } catch {
    throw new RecordsIoError('LINK_INVALID', 'the content does not decrypt with this link’s key');
  }
}
