#!/usr/bin/env node
// The package's `bin`: `hale-sync-server` once installed, `npx hale-sync-server`, or this path run as it
// is. Node 20 cannot load TypeScript by itself, so this registers tsx's loader in this very process and
// then loads the server: one process, as with `npm start` (`exec node --import tsx src/main.ts`), so the
// supervisor's SIGTERM or SIGINT reaches the server's own handlers (drain, close the store, release the
// data directory) and the exit status is the server's. The bin used to be src/main.ts itself, with the
// shebang `env -S npx tsx`: npm exec, then the tsx CLI, then node — a signal to the started process ended
// it and left the server running, still holding the port and the data directory.
// tsx is resolved from this file's location, so the bin works from any working directory.
import { register } from 'tsx/esm/api';

register();
await import('../src/main.ts');
