/**
 * The navigation, in sections, each for the roles that see it. The chart's and care's record kinds come
 * from their descriptions in @hale/model (`screen`: section, order, icon), each named by the glossary
 * (`kinds.<slug>.title`); lab trends follows lab results. The care-team screens (sharing, access history,
 * messages) and the clinician workspace add their own sections here; the layout renders whatever sections
 * the account's role has. Sharing with the care team and shared links are one Sharing item (`also`), with
 * tabs between the two (sharing-tabs.tsx).
 */
import { SCREEN_KINDS, kindDescription, type KindIcon } from '@hale/model';
import {
  IconActivity,
  IconAlertTriangle,
  IconBandage,
  IconBrain,
  IconDental,
  IconDna,
  IconLungs,
  IconScale,
  IconUsers,
  IconFileExport,
  IconFileImport,
  IconHeartbeat,
  IconReportMedical,
  IconCalendarEvent,
  IconChartLine,
  IconClockHour8,
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

/** How each icon a kind's description may name is drawn. */
export const KIND_ICON: Readonly<Record<KindIcon, Icon>> = {
  id: IconId,
  phone: IconPhoneCall,
  virus: IconVirus,
  heartbeat: IconHeartbeat,
  pill: IconPill,
  vaccine: IconVaccine,
  activity: IconActivity,
  file: IconFileText,
  bandage: IconBandage,
  clipboard: IconClipboardHeart,
  calendar: IconCalendarEvent,
  stethoscope: IconStethoscope,
  notes: IconNotes,
  people: IconUsers,
  dna: IconDna,
  eye: IconEye,
  tooth: IconDental,
  scale: IconScale,
  brain: IconBrain,
  lungs: IconLungs,
};

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

/** A section's record kinds, in their order; `after`: items that follow a kind's (its path → items). */
const kindItems = (
  section: 'chart' | 'care',
  after: Readonly<Record<string, readonly NavItem[]>> = {},
): NavItem[] =>
  SCREEN_KINDS.flatMap((kind) => {
    const { slug, screen } = kindDescription(kind);
    if (screen?.section !== section) return [];
    const to = screen.path ?? `/chart/${slug}`;
    return [{ to, label: `kinds.${slug}.title`, icon: KIND_ICON[screen.icon] }, ...(after[to] ?? [])];
  });

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
    items: kindItems('chart', {
      '/chart/medications': [{ to: '/medicines/today', label: 'nav.medicinesToday', icon: IconClockHour8 }],
      '/chart/labs': [{ to: '/labs/trends', label: 'nav.trends', icon: IconChartLine }],
    }),
  },
  {
    key: 'care',
    label: 'nav.care',
    roles: ['patient'],
    items: kindItems('care'),
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
