/** Byte-for-byte equality (native compare; not constant-time — for stored data, never for secrets). */
export const sameBytes = (a: Uint8Array, b: Uint8Array): boolean =>
  a.byteLength === b.byteLength && Buffer.compare(a, b) === 0;
