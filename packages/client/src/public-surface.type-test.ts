// Type-level check that the parts a session is built from are not importable from `@hale/client`: each
// import below must fail to type-check, and `npm run typecheck` fails if one ever succeeds (the directive
// above it then has nothing to expect). They are reachable from `@hale/client/advanced` only.
/* eslint-disable @typescript-eslint/no-unused-vars */
// @ts-expect-error openDeviceSession is not public: use openHale
import { openDeviceSession } from '@hale/client';
// @ts-expect-error the sync engine is not public
import { createSyncEngine } from '@hale/client';
// @ts-expect-error the device store is not public
import { openDeviceDb } from '@hale/client';
// @ts-expect-error the keyring is not public
import { createKeyring } from '@hale/client';
// @ts-expect-error the wire job types are worker internals
import type { WireJob } from '@hale/client';
// @ts-expect-error the inferred DeviceSession is not public: HaleSession is declared
import type { DeviceSession } from '@hale/client';
// @ts-expect-error test-only knobs are in @hale/client/testing
import { openHaleForTests } from '@hale/client';
// @ts-expect-error the session's assembly is not public: openHale builds it
import { toHaleSession } from '@hale/client';
// @ts-expect-error openHale's knobs are not public
import { openHaleWith } from '@hale/client';
// @ts-expect-error the search index is reached through session.search
import { createRecordIndex } from '@hale/client';
// @ts-expect-error the live index is reached through session.search
import { createLiveIndex } from '@hale/client';
// @ts-expect-error a list's paging is reached through records.list
import { pageOf } from '@hale/client';
// @ts-expect-error the consent internals are not public
import { createConsent } from '@hale/client';
import type { openDeviceSession as fromAdvanced } from '@hale/client/advanced';
import type { openHaleForTests as fromTesting } from '@hale/client/testing';
import type { createLiveIndex as liveFromAdvanced } from '@hale/client/advanced';
import type { HaleSession, OpenHaleOptions, SearchResults, ReceivedGrant } from '@hale/client';

export type Checked = [
  typeof fromAdvanced,
  typeof fromTesting,
  typeof liveFromAdvanced,
  HaleSession,
  OpenHaleOptions,
  SearchResults,
  ReceivedGrant,
];
