// A patient's SMART Health Link made over HTTP (POST /v1/shl) on a real server, for the link tests: the
// server never decrypts, so the content is any JWE-shaped text. Sent as a device sends it (label and counts
// sealed to the patient), or as an app from before sealing sent it (`legacy`: in clear).
import { randomBytes } from 'node:crypto';
import { sealLinkDetails } from '@hale/crypto';
import type { ShlLinkInfo } from '@hale/protocol';
import { http, registerAccount, sessionToken, type Endpoint, type TestAccount } from './testing/harness';

export interface TestLink {
  /** The manifest token: the link's URL is `${url}/shl/${token}`. */
  token: string;
  linkId: string;
  /** The patient's session, for the patient's own calls (accesses, events). */
  patientToken: string;
  /** The patient, whose wrapping key opens what the server sealed. */
  patient: TestAccount;
}

export const JWE = 'eyJhbGciOiJkaXIiLCJlbmMiOiJBMjU2R0NNIn0..aXZpdml2aXZpdg.Y2lwaGVydGV4dA.dGFndGFndGFn';

export const createLink = async (
  t: Endpoint,
  options: {
    passcode?: string;
    label?: string;
    contents?: { type: 'allergy' | 'medication' | 'condition'; count: number }[];
    legacy?: boolean;
  } = {},
): Promise<TestLink> => {
  const { passcode, label, legacy = false } = options;
  const contents = options.contents ?? [{ type: 'allergy', count: 1 }];
  const patient = await registerAccount(t);
  const patientToken = await sessionToken(t, patient.device);
  const token = randomBytes(32).toString('base64url');
  const linkId = randomBytes(16).toString('base64url');
  const details = { ...(label === undefined ? {} : { label }), contents };
  const created = await http(
    t.url,
    'POST',
    '/v1/shl',
    {
      linkId,
      token,
      ...(passcode === undefined ? {} : { passcode }),
      emergency: false,
      ...(legacy
        ? details
        : {
            types: [...new Set(contents.map((c) => c.type))],
            sealed: sealLinkDetails(JSON.stringify(details), patient.keys.wrapping.publicKey, linkId),
          }),
      contentType: 'application/fhir+json',
      jwe: JWE,
    },
    patientToken,
  );
  if (created.status !== 200) throw new Error(`link not created: ${JSON.stringify(created.body)}`);
  return { token, linkId: (created.body as ShlLinkInfo).linkId, patientToken, patient };
};
