/**
 * The navigation, in sections, each for the roles that see it. The care-team screens (sharing, access
 * history, messages) and the clinician workspace add their own sections here; the layout renders whatever
 * sections the account's role has. Sharing with the care team and shared links are one Sharing item
 * (`also`), with tabs between the two (sharing-tabs.tsx).
 */
import {
  IconActivity,
  IconAlertTriangle,
  IconBandage,
  IconFileExport,
  IconFileImport,
  IconHeartbeat,
  IconReportMedical,
  IconCalendarEvent,
  IconChartLine,
  IconClipboardHeart,
  IconEye,
  IconFileText,
  IconFirstAidKit,
  IconHome,
  IconId,
  IconMessages,
  IconNotes,
  IconPill,
  IconPhoneCall,
  IconSettings,
  IconShare,
  IconStethoscope,
  IconVaccine,
  IconVirus,
  type Icon,
} from '@tabler/icons-react';
import { WORKSPACE_SECTIONS } from '../workspace/nav';

export interface NavItem {
  readonly to: string;
  /** i18n key of its label. */
  readonly label: string;
  readonly icon: Icon;
  /** Other paths (and their sub-paths) where this item is the current one. */
  readonly also?: readonly string[];
}

export interface NavSection {
  readonly key: string;
  readonly label: string;
  readonly roles: readonly ('patient' | 'provider')[];
  readonly items: readonly NavItem[];
}

export const NAV_SECTIONS: readonly NavSection[] = [
  ...WORKSPACE_SECTIONS,
  {
    key: 'overview',
    label: 'nav.overview',
    roles: ['patient'],
    items: [
      { to: '/', label: 'nav.home', icon: IconHome },
      { to: '/emergency', label: 'nav.emergency', icon: IconFirstAidKit },
    ],
  },
  {
    key: 'chart',
    label: 'nav.chart',
    roles: ['patient'],
    items: [
      { to: '/chart/profile', label: 'kinds.profile.title', icon: IconId },
      { to: '/chart/contacts', label: 'kinds.contacts.title', icon: IconPhoneCall },
      { to: '/chart/allergies', label: 'kinds.allergies.title', icon: IconVirus },
      { to: '/chart/conditions', label: 'kinds.conditions.title', icon: IconHeartbeat },
      { to: '/chart/medications', label: 'kinds.medications.title', icon: IconPill },
      { to: '/chart/immunizations', label: 'kinds.immunizations.title', icon: IconVaccine },
      { to: '/chart/labs', label: 'kinds.labs.title', icon: IconActivity },
      { to: '/labs/trends', label: 'nav.trends', icon: IconChartLine },
      { to: '/chart/documents', label: 'kinds.documents.title', icon: IconFileText },
      { to: '/chart/procedures', label: 'kinds.procedures.title', icon: IconBandage },
    ],
  },
  {
    key: 'care',
    label: 'nav.care',
    roles: ['patient'],
    items: [
      { to: '/care/plans', label: 'kinds.plans.title', icon: IconClipboardHeart },
      { to: '/care/appointments', label: 'kinds.appointments.title', icon: IconCalendarEvent },
      { to: '/chart/encounters', label: 'kinds.encounters.title', icon: IconStethoscope },
      { to: '/chart/notes', label: 'kinds.notes.title', icon: IconNotes },
    ],
  },
  {
    key: 'inOut',
    label: 'nav.inOut',
    roles: ['patient'],
    items: [
      { to: '/records/summary', label: 'nav.summary', icon: IconReportMedical },
      { to: '/records/import', label: 'nav.import', icon: IconFileImport },
      { to: '/records/export', label: 'nav.export', icon: IconFileExport },
    ],
  },
  {
    key: 'together',
    label: 'nav.together',
    roles: ['patient'],
    items: [
      { to: '/care/messages', label: 'nav.messages', icon: IconMessages },
      // One Sharing area: the care team's grants and the links anyone can open (SharingTabs).
      { to: '/care/sharing', label: 'nav.sharing', icon: IconShare, also: ['/records/share'] },
      { to: '/care/access', label: 'nav.access', icon: IconEye },
    ],
  },
  {
    key: 'inbox',
    label: 'nav.together',
    roles: ['provider'],
    items: [{ to: '/care/messages', label: 'nav.messages', icon: IconMessages }],
  },
  {
    key: 'account',
    label: 'nav.account',
    roles: ['patient', 'provider'],
    items: [
      { to: '/problems', label: 'nav.problems', icon: IconAlertTriangle },
      { to: '/settings', label: 'nav.settings', icon: IconSettings },
    ],
  },
];
