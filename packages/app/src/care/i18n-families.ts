// The care screens' i18n keys built at run time (template literals), for i18n.test.ts to check in every
// language.
import { CARE_NOTIFICATION_TYPES } from '@hale/client';
import { APPOINTMENT_STATUSES } from '@hale/model';
import { CARE_ERROR_TEXTS } from './errors';
import { EXPIRIES } from './share/scope';
import { PROBLEM_KINDS } from './access/verification-panel';
import { REMINDERS } from './notify/reminders';

export const careFamilyKeys = (): string[] => [
  ...['read', 'write'].map((a) => `care.access.${a}`),
  ...['none', 'read', 'write'].map((l) => `care.level.${l}`),
  ...EXPIRIES.map((e) => `care.expiry.${e}`),
  ...[
    'active',
    'expiring',
    'not-started',
    'revocation-pending',
    'rotation-in-progress',
    'revoked',
    'expired',
  ].map((s) => `care.grantState.${s}`),
  ...CARE_ERROR_TEXTS.map((c) => `care.error.${c}`),
  ...PROBLEM_KINDS.map((k) => `care.audit.problemKind.${k}`),
  ...['all', '1', '7', '30', '365'].map((p) => `care.audit.periods.${p}`),
  ...CARE_NOTIFICATION_TYPES.flatMap((n) => [`care.notify.${n}.title`, `care.notify.${n}.body`]),
  ...REMINDERS.map((r) => `care.notify.reminder.${r.key}`),
  ...APPOINTMENT_STATUSES.map((s) => `enum.appointmentStatus.${s}`),
  ...['summary', 'details', 'status', 'effectiveFrom', 'effectiveTo'].map((f) => `care.plans.field.${f}`),
  ...['needKind', 'needPurpose', 'purposeLong', 'needDate', 'datePast'].map((k) => `care.share.${k}`),
];
