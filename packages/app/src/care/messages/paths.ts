// Where the message screens live, for both roles: the inbox, a thread (in the patient's chart), a new one.
export const MESSAGES = '/care/messages';
export const threadPath = (patientId: string, threadId: string): string =>
  `${MESSAGES}/${encodeURIComponent(patientId)}/${encodeURIComponent(threadId)}`;
export const newMessagePath = (to?: string): string =>
  to === undefined ? `${MESSAGES}/new` : `${MESSAGES}/new?to=${encodeURIComponent(to)}`;
