// When a sign-in challenge has expired: one rule for both paths that answer one, the socket's `auth`
// (plugins/sync-ws.ts) and `POST /v1/auth/session` (plugins/accounts.ts). They used to compare on their
// own and disagreed at the expiry instant itself (one refused it, the other served it), so the same late
// answer was taken on one path and refused on the other. `expiresAt` is the first instant the challenge
// no longer counts, as for sessions, grants and invites.

/** Whether a challenge expiring at `expiresAtMs` (epoch ms) is expired at `nowMs`. */
export const challengeExpired = (expiresAtMs: number, nowMs: number): boolean => nowMs >= expiresAtMs;
