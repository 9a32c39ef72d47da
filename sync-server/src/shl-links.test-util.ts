// A patient's SMART Health Link made over HTTP (POST /v1/shl) on a real server, for the link tests: the
// server never decrypts, so the content is any JWE-shaped text.
import { randomBytes } from 'node:crypto';
import type { ShlLinkInfo } from '@hale/protocol';
import { http, registerAccount, sessionToken, type Endpoint } from './testing/harness';

export interface TestLink {
  /** The manifest token: the link's URL is `${url}/shl/${token}`. */
  token: string;
  linkId: string;
  /** The patient's session, for the patient's own calls (accesses, events). */
  patientToken: string;
}

export const JWE = 'eyJhbGciOiJkaXIiLCJlbmMiOiJBMjU2R0NNIn0..aXZpdml2aXZpdg.Y2lwaGVydGV4dA.dGFndGFndGFn';

export const createLink = async (
  t: Endpoint,
  options: { passcode?: string; label?: string } = {},
): Promise<TestLink> => {
  const patient = await registerAccount(t);
  const patientToken = await sessionToken(t, patient.device);
  const token = randomBytes(32).toString('base64url');
  const created = await http(
    t.url,
    'POST',
    '/v1/shl',
    {
      linkId: randomBytes(16).toString('base64url'),
      token,
      ...options,
      emergency: false,
      contents: [{ type: 'allergy', count: 1 }],
      contentType: 'application/fhir+json',
      jwe: JWE,
    },
    patientToken,
  );
  if (created.status !== 200) throw new Error(`link not created: ${JSON.stringify(created.body)}`);
  return { token, linkId: (created.body as ShlLinkInfo).linkId, patientToken };
};
