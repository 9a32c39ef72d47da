export * from './protocol';
export * from './pairing';
