/**
 * The workspace's routes, under the open gate and the app's layout (router.tsx adds them): each screen its
 * own chunk. A patient's chart lives under `/workspace/patients/:patientId`, whose layout (the chart's
 * header, its tabs by granted kind, and the chart scope) wraps the app's own record screens and the
 * workspace's clinical ones; specific paths (the lab list and trends, a lab's entry, a note, a plan) rank above
 * the generic ones.
 */
import type { RouteObject } from 'react-router';
import { Navigate } from 'react-router';

const records = {
  list: () => import('../records/record-list').then((m) => ({ Component: m.RecordListScreen })),
  detail: () => import('../records/record-detail').then((m) => ({ Component: m.RecordDetailScreen })),
  form: () => import('../records/record-form').then((m) => ({ Component: m.RecordFormScreen })),
};

export const WORKSPACE_ROUTES: RouteObject[] = [
  { path: 'workspace', element: <Navigate to="/workspace/today" replace /> },
  {
    path: 'workspace/today',
    lazy: () => import('./home/workspace-home').then((m) => ({ Component: m.WorkspaceHome })),
  },
  {
    path: 'workspace/patients',
    lazy: () => import('./patients/patients-screen').then((m) => ({ Component: m.PatientsScreen })),
  },
  {
    path: 'workspace/patients/:patientId',
    lazy: () => import('./patients/patient-layout').then((m) => ({ Component: m.PatientLayout })),
    children: [
      {
        index: true,
        lazy: () => import('./patients/patient-overview').then((m) => ({ Component: m.PatientOverview })),
      },
      {
        path: 'chart/labs',
        lazy: () => import('./labs/lab-list').then((m) => ({ Component: m.LabListScreen })),
      },
      {
        path: 'chart/labs/trends',
        lazy: () => import('./labs/lab-trends').then((m) => ({ Component: m.WorkspaceLabTrendsScreen })),
      },
      {
        path: 'chart/labs/new',
        lazy: () => import('./labs/lab-entry').then((m) => ({ Component: m.LabEntryScreen })),
      },
      {
        path: 'chart/labs/:id/edit',
        lazy: () => import('./labs/lab-entry').then((m) => ({ Component: m.LabEntryScreen })),
      },
      {
        path: 'chart/plans/new',
        lazy: () => import('./plans/plan-screen').then((m) => ({ Component: m.PlanScreen })),
      },
      {
        path: 'chart/plans/:id',
        lazy: () => import('./plans/plan-screen').then((m) => ({ Component: m.PlanScreen })),
      },
      {
        path: 'chart/plans/:id/edit',
        lazy: () => import('./plans/plan-screen').then((m) => ({ Component: m.PlanScreen })),
      },
      {
        path: 'chart/encounters/new',
        lazy: () => import('./encounters/encounter-new').then((m) => ({ Component: m.EncounterNewScreen })),
      },
      {
        path: 'chart/encounters/:id',
        lazy: () => import('./encounters/encounter-screen').then((m) => ({ Component: m.EncounterScreen })),
      },
      {
        path: 'chart/encounters/:id/summary',
        lazy: () => import('./summary/visit-summary').then((m) => ({ Component: m.VisitSummaryScreen })),
      },
      {
        path: 'chart/notes/new',
        lazy: () => import('./notes/note-new').then((m) => ({ Component: m.NoteNewScreen })),
      },
      {
        path: 'chart/notes/:id',
        lazy: () => import('./notes/note-screen').then((m) => ({ Component: m.NoteScreen })),
      },
      {
        path: 'chart/notes/:id/edit',
        lazy: () => import('./notes/note-screen').then((m) => ({ Component: m.NoteScreen })),
      },
      { path: 'chart/:slug', lazy: records.list },
      { path: 'chart/:slug/new', lazy: records.form },
      { path: 'chart/:slug/:id', lazy: records.detail },
      { path: 'chart/:slug/:id/edit', lazy: records.form },
    ],
  },
  {
    path: 'workspace/cosign',
    lazy: () => import('./cosign/cosign-queue').then((m) => ({ Component: m.CosignQueueScreen })),
  },
  {
    path: 'workspace/cosign/:signatureId',
    lazy: () => import('./cosign/cosign-review').then((m) => ({ Component: m.CosignReviewScreen })),
  },
  {
    path: 'workspace/schedule',
    lazy: () => import('./schedule/schedule-screen').then((m) => ({ Component: m.ScheduleScreen })),
  },
  {
    path: 'workspace/schedule/availability',
    lazy: () => import('./schedule/availability-screen').then((m) => ({ Component: m.AvailabilityScreen })),
  },
  {
    path: 'workspace/invite',
    lazy: () => import('./keys/invite-screen').then((m) => ({ Component: m.InviteScreen })),
  },
  {
    path: 'workspace/check',
    lazy: () => import('./keys/key-check-screen').then((m) => ({ Component: m.KeyCheckScreen })),
  },
  {
    path: 'workspace/profile',
    lazy: () => import('./profile/profile-screen').then((m) => ({ Component: m.ProfileScreen })),
  },
];

/** The workspace's screens' code, loaded in the background so they open offline later. */
export const preloadWorkspace = (): Promise<unknown> =>
  Promise.allSettled([
    import('./home/workspace-home'),
    import('./patients/patients-screen'),
    import('./patients/patient-layout'),
    import('./patients/patient-overview'),
    import('./labs/lab-list'),
    import('./labs/lab-trends'),
    import('./labs/lab-entry'),
    import('./plans/plan-screen'),
    import('./encounters/encounter-new'),
    import('./encounters/encounter-screen'),
    import('./summary/visit-summary'),
    import('./notes/note-new'),
    import('./notes/note-screen'),
    import('./cosign/cosign-queue'),
    import('./cosign/cosign-review'),
    import('./schedule/schedule-screen'),
    import('./schedule/availability-screen'),
    import('./keys/invite-screen'),
    import('./keys/key-check-screen'),
    import('./profile/profile-screen'),
  ]);
