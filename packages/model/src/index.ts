export * from './stream-types';
