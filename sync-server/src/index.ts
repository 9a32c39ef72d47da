export { buildApp, type BuildAppOptions, type HaleServer } from './app';
export { DEFAULT_CONFIG, parseCommandLine, usage, type ServerConfig } from './config';
export { createLogger } from './logger';
export * from './store/index';
export { decideAccess, type Principal, type Operation } from './core/access';
export { openCouchStore, redactUrl, type CouchStore, type CouchStoreOptions } from './store/couch/index';
