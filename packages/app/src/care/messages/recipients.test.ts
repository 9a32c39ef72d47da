import { describe, expect, it } from 'vitest';
import type { GrantView, ReceivedGrant } from '@hale/client';
import { clinicianRecipients, patientRecipients } from './recipients';

const grant = (
  granteeId: string,
  state: GrantView['state'],
  scope: { type: string; access: string }[],
): GrantView => ({ grant: { granteeId, scope }, state }) as unknown as GrantView;

describe('message recipients', () => {
  it('a patient writes to clinicians holding its messages, in force; answering needs write', () => {
    const list = clinicianRecipients([
      grant('A', 'active', [{ type: 'message', access: 'read' }]),
      grant('A', 'expiring', [{ type: 'message', access: 'write' }]),
      grant('B', 'active', [{ type: 'lab-result', access: 'write' }]),
      grant('C', 'revoked', [{ type: 'message', access: 'write' }]),
      grant('D', 'active', [{ type: 'message', access: 'read' }]),
    ]);
    expect(list).toEqual([
      { accountId: 'A', canReply: true },
      { accountId: 'D', canReply: false },
    ]);
  });

  it('a clinician writes to patients who let it write their messages', () => {
    const received = [
      { patientId: 'P', state: 'active', streams: [{ type: 'message', access: 'write' }] },
      { patientId: 'Q', state: 'active', streams: [{ type: 'message', access: 'read' }] },
      { patientId: 'R', state: 'ended', streams: [{ type: 'message', access: 'write' }] },
    ] as unknown as ReceivedGrant[];
    expect(patientRecipients(received)).toEqual([{ accountId: 'P', canReply: true }]);
  });
});
