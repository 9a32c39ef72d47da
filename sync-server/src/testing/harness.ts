// Test harness: a real server on a loopback port over a real SQLite file, and minimal real devices
// (keys, certificates, signed frames over a real WebSocket). Used by the server's tests and benchmarks.
// One module per area, all re-exported here: tests import from this file.
export * from './harness-server';
export * from './harness-accounts';
export * from './harness-ws';
export * from './harness-records';
export * from './harness-store';
export * from './harness-blobs';
