// Where the message screens live, for both roles: the inbox, a thread (in the patient's chart), a new one.
export const MESSAGES = '/care/messages';
export const threadPath = (patientId: string, threadId: string): string =>
  `${MESSAGES}/${encodeURIComponent(patientId)}/${encodeURIComponent(threadId)}`;
export const newMessagePath = (to?: string, about?: string): string => {
  const query = new URLSearchParams();
  if (to !== undefined) query.set('to', to);
  if (about !== undefined) query.set('about', about);
  const q = query.toString();
  return q === '' ? `${MESSAGES}/new` : `${MESSAGES}/new?${q}`;
};
