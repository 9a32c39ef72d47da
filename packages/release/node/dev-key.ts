/**
 * DEVELOPMENT ONLY — NOT A SECRET. The seed of the development release key, committed on purpose so that
 * every checkout signs its local builds the same way. A release signed with it says `dev: true`, and a
 * production build of the app refuses it. Never sign a build people use with this key.
 */
export const DEV_RELEASE_SEED_HEX = 'a3c451b9a79675af0834e3840509bbe75fa5c72966d45d706c0f296a8d7bd411';
