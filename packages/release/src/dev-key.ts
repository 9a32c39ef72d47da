/**
 * The DEVELOPMENT release key's public half. Its secret half is in this repository
 * (`node/dev-key.ts`): anyone can sign with it. A development build trusts it so that local builds install
 * and update without a key ceremony; a production build (`HALE_RELEASE_PUBLIC_KEYS` given) does not, and
 * refuses a release signed with it (`dev-key`).
 */
export const DEV_RELEASE_PUBLIC_KEY = '7cac42d7829dde96e763d31eb80ab5f6611ae56a917390825af975246f450db2';
