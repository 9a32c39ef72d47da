// The slice of PouchDB's API (pouchdb-core with pouchdb-adapter-http) the CouchDB store uses; the packages
// ship no types of their own.
declare module 'pouchdb-core' {
  interface PouchStatic {
    // A type import in an ambient module keeps it ambient (a top-level import would make it an augmentation).
    // eslint-disable-next-line @typescript-eslint/consistent-type-imports
    new (name: string, options?: Record<string, unknown>): import('./db').PouchDbLike;
    plugin(plugin: unknown): PouchStatic;
    defaults(options: Record<string, unknown>): PouchStatic;
  }
  const PouchDB: PouchStatic;
  export default PouchDB;
}
declare module 'pouchdb-adapter-http' {
  const plugin: unknown;
  export default plugin;
}
