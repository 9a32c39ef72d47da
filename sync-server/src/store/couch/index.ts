export { openCouchStore, redactUrl } from './store';
export type { CouchStore, CouchStoreOptions } from './store';
