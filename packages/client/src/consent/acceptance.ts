/**
 * Acceptance (provider side): which patients' grants this provider wants, outside the cap on grants from
 * strangers.
 *
 * Invariants:
 * - Acceptance (provider side): `acceptPatient` / `unacceptPatient` tell the
 *   server that this provider wants a patient's grants, so they stop counting toward its cap on grants from
 *   strangers (MAX_ACTIVE_GRANTS_PER_GRANTEE); `acceptedPatients` lists them, every page. Flood policy only:
 *   nothing is signed, no access or key changes, and un-accepting ends no grant. The id is checked before
 *   anything is sent (an account id, not this account's own), the role too (a patient account accepts
 *   nobody).
 */
import type { ConsentCore } from './consent-core';
import {
  validate,
  type AcceptedPatient,
  AccountId,
  type AcceptedPatientsFrame,
  MAX_ACCEPTED_PAGE,
} from '@hale/protocol';
import { ConsentError, MAX_ACCEPTED_PAGES } from './consent-types';
import { readPages } from '../sync/read-pages';

export const createAcceptance = (c: ConsentCore) => {
  const { deps } = c;
  /** Acceptance is a provider's: a patient account's cap on grants from strangers stays whole. */
  const assertProvider = (): void => {
    deps.assertUnlocked?.();
    if (deps.role !== 'provider') {
      throw new ConsentError('NOT_A_PROVIDER', 'only a provider account accepts patients');
    }
  };
  /** The checks an acceptance request passes before anything is sent; answers the id, checked. */
  const acceptable = async (patientId: string): Promise<AcceptedPatient['patientId']> => {
    assertProvider();
    const id = validate(AccountId, patientId);
    if (!id.ok) throw new ConsentError('BAD_ACCOUNT_ID', 'this is not a Hale account id');
    if (id.value === deps.accountId)
      throw new ConsentError('BAD_ACCOUNT_ID', 'an account cannot accept itself');
    return id.value;
  };
  const setAccepted = async (patientId: string, accept: boolean): Promise<void> => {
    const id = await acceptable(patientId);
    await deps.connection.request({ t: 'acceptPatient', patientId: id, accept });
  };
  /** Every patient this account accepted, read page after page (see `Consent.acceptedPatients`). */
  const acceptedPatients = async (): Promise<AcceptedPatient[]> => {
    assertProvider();
    return readPages(
      async (cursor) => {
        const reply = await deps.connection.request<AcceptedPatientsFrame>({
          t: 'listAccepted',
          limit: MAX_ACCEPTED_PAGE,
          ...(cursor === undefined ? {} : { cursor }),
        });
        return { rows: reply.patients, next: reply.next };
      },
      MAX_ACCEPTED_PAGES,
      `the server lists more than ${MAX_ACCEPTED_PAGES * MAX_ACCEPTED_PAGE} accepted patients`,
    );
  };
  return { setAccepted, acceptedPatients };
};

export type Acceptance = ReturnType<typeof createAcceptance>;
