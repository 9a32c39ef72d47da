/**
 * The clinician workspace's navigation section (providers only), placed before the account section. The
 * inbox of messages across patients is the care screens' (another folder): the lead wires its entry here.
 */
import {
  IconCalendarWeek,
  IconLayoutDashboard,
  IconSignature,
  IconUserCircle,
  IconUserPlus,
  IconUsers,
} from '@tabler/icons-react';
import type { NavSection } from '../layout/nav';

export const WORKSPACE_SECTIONS: readonly NavSection[] = [
  {
    key: 'workspace',
    label: 'workspace.nav.section',
    roles: ['provider'],
    items: [
      { to: '/workspace/today', label: 'workspace.nav.today', icon: IconLayoutDashboard },
      { to: '/workspace/patients', label: 'workspace.nav.patients', icon: IconUsers },
      { to: '/workspace/invite', label: 'workspace.nav.invite', icon: IconUserPlus },
      { to: '/workspace/cosign', label: 'workspace.nav.cosign', icon: IconSignature },
      { to: '/workspace/schedule', label: 'workspace.nav.schedule', icon: IconCalendarWeek },
      { to: '/workspace/profile', label: 'workspace.nav.profile', icon: IconUserCircle },
    ],
  },
];
