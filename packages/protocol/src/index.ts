export * from './protocol';
export * from './shl';
