/**
 * Records in and out's failures in words, with what to do: an import refused whole (by its reason), an
 * import undone midway, a link call the server refused, no connection. The model's own sentence (English,
 * naming paths in the file) goes into the details a person can open, not the headline.
 */
import type { TFunction } from 'i18next';
import { isHaleError, RecordsIoError } from '@hale/client';
import type { FhirImportFailureReason } from '@hale/model';
import { haleErrorText } from '../../i18n/error-words';

export const refusalText = (t: TFunction, reason: FhirImportFailureReason | undefined): string => {
  switch (reason) {
    case 'TOO_LARGE':
      return t('importer.refused.tooLarge');
    case 'TOO_DEEP':
      return t('importer.refused.tooDeep');
    case 'NOT_JSON':
      return t('importer.refused.notJson');
    case 'MALFORMED':
      return t('importer.refused.malformed');
    case 'UNSUPPORTED_BUNDLE':
      return t('importer.refused.unsupportedBundle');
    case 'DANGLING_REFERENCE':
      return t('importer.refused.danglingReference');
    case 'SEVERAL_PATIENTS':
      return t('importer.refused.severalPatients');
    case 'NOTHING_TO_IMPORT':
      return t('importer.refused.nothingToImport');
    case 'NO_PATIENT':
      return t('importer.refused.noPatient');
    case undefined:
      return t('importer.refused.other');
  }
};

const offline = (e: unknown): boolean =>
  (isHaleError(e) && (e.code === 'NETWORK' || e.code === 'TIMEOUT')) ||
  e instanceof TypeError ||
  (typeof navigator !== 'undefined' && !navigator.onLine);

export interface IoFailure {
  /** What happened and what to do, in the person's language. */
  readonly text: string;
  /** The library's own words and the paths at fault, for the details. */
  readonly details: readonly string[];
}

export const ioFailure = (t: TFunction, e: unknown): IoFailure => {
  if (e instanceof RecordsIoError) {
    const details = [e.message, ...(e.detail.issues ?? []).map((i) => `${i.path}: ${i.reason}`)];
    switch (e.code) {
      case 'IMPORT_REFUSED':
        return { text: refusalText(t, e.detail.reason), details };
      case 'IMPORT_FAILED':
        return { text: t('importer.failed'), details };
      case 'LINK_REFUSED':
        return {
          text: offline(e) ? t('io.offline') : t('io.linkRefused', { status: e.detail.status ?? 0 }),
          details,
        };
      default:
        return { text: t('io.linkRefused', { status: e.detail.status ?? 0 }), details };
    }
  }
  if (offline(e)) return { text: t('io.offline'), details: [e instanceof Error ? e.message : String(e)] };
  if (isHaleError(e)) return { text: haleErrorText(t, e, 'recordError'), details: [e.message] };
  return { text: t('io.unexpected'), details: [e instanceof Error ? e.message : String(e)] };
};
