export * from './protocol';
export * from './pairing';
export * from './shl';
