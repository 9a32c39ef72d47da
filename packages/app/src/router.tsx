/**
 * Routes, each screen its own chunk (`lazy`). Two gates: the public screens (start, unlock) and the chart,
 * which renders only in the `open` phase; anything else redirects to the screen the phase allows, keeping
 * where the person was going (`?next=`).
 *
 * Layout for later work: `/care/*` (sharing, access history, messages: the care-team issue) and
 * `/workspace/*` (the clinician workspace) go under the same open gate and AppLayout, whose navigation
 * takes sections by role (layout/nav.ts).
 */
import type { ReactNode } from 'react';
import { createBrowserRouter, Navigate, Outlet, useLocation, useSearchParams } from 'react-router';
import { useApp } from './boot/app-state';
import { FullScreenMessage, FullScreenLoader, RouteError } from './ui/full-screen';
import { preloadWorkspace, WORKSPACE_ROUTES } from './workspace/routes';

const safeNext = (next: string | null): string =>
  next !== null && next.startsWith('/') && !next.startsWith('//') && !next.startsWith('/start') ? next : '/';

function PublicGate(): ReactNode {
  const { phase, failure } = useApp();
  const location = useLocation();
  const [params] = useSearchParams();
  if (phase === 'loading') return <FullScreenLoader />;
  if (phase === 'failed') return <FullScreenMessage error={failure} />;
  if (phase === 'open') return <Navigate to={safeNext(params.get('next'))} replace />;
  const onUnlock = location.pathname === '/unlock';
  if (phase === 'locked' && !onUnlock) return <Navigate to={`/unlock${location.search}`} replace />;
  if (phase === 'start' && onUnlock) return <Navigate to={`/start${location.search}`} replace />;
  return <Outlet />;
}

function OpenGate(): ReactNode {
  const { phase, failure } = useApp();
  const location = useLocation();
  if (phase === 'loading') return <FullScreenLoader />;
  if (phase === 'failed') return <FullScreenMessage error={failure} />;
  const next = `?next=${encodeURIComponent(location.pathname + location.search)}`;
  if (phase === 'locked') return <Navigate to={`/unlock${next}`} replace />;
  if (phase === 'start') return <Navigate to={`/start${next}`} replace />;
  return <Outlet />;
}

export const router = createBrowserRouter([
  {
    element: <PublicGate />,
    errorElement: <RouteError />,
    children: [
      {
        path: '/start',
        lazy: () => import('./screens/start/start-screen').then((m) => ({ Component: m.StartScreen })),
      },
      {
        path: '/start/create',
        lazy: () =>
          import('./screens/start/create-account').then((m) => ({ Component: m.CreateAccountScreen })),
      },
      {
        path: '/start/join',
        lazy: () => import('./screens/start/join-screen').then((m) => ({ Component: m.JoinScreen })),
      },
      {
        path: '/unlock',
        lazy: () => import('./screens/start/unlock-screen').then((m) => ({ Component: m.UnlockScreen })),
      },
    ],
  },
  {
    element: <OpenGate />,
    errorElement: <RouteError />,
    children: [
      {
        path: '/',
        lazy: () => import('./layout/app-layout').then((m) => ({ Component: m.AppLayout })),
        children: [
          {
            index: true,
            lazy: () => import('./workspace/role-home').then((m) => ({ Component: m.RoleHome })),
          },
          {
            path: 'chart/:slug',
            lazy: () => import('./records/record-list').then((m) => ({ Component: m.RecordListScreen })),
          },
          {
            path: 'chart/:slug/new',
            lazy: () => import('./records/record-form').then((m) => ({ Component: m.RecordFormScreen })),
          },
          {
            path: 'chart/:slug/:id',
            lazy: () => import('./records/record-detail').then((m) => ({ Component: m.RecordDetailScreen })),
          },
          {
            path: 'chart/:slug/:id/edit',
            lazy: () => import('./records/record-form').then((m) => ({ Component: m.RecordFormScreen })),
          },
          {
            path: 'documents/upload',
            lazy: () =>
              import('./screens/documents/upload-screen').then((m) => ({ Component: m.UploadScreen })),
          },
          {
            path: 'labs/trends',
            lazy: () => import('./screens/labs/lab-trends').then((m) => ({ Component: m.LabTrendsScreen })),
          },
          {
            path: 'emergency',
            lazy: () =>
              import('./screens/emergency/emergency-card').then((m) => ({
                Component: m.EmergencyCardScreen,
              })),
          },
          {
            path: 'problems',
            lazy: () =>
              import('./screens/problems/problems-screen').then((m) => ({ Component: m.ProblemsScreen })),
          },
          {
            path: 'settings',
            lazy: () =>
              import('./screens/settings/settings-screen').then((m) => ({ Component: m.SettingsScreen })),
          },
          {
            path: 'search',
            lazy: () => import('./screens/search/search-screen').then((m) => ({ Component: m.SearchScreen })),
          },
          {
            path: 'records/import',
            lazy: () => import('./screens/io/import-screen').then((m) => ({ Component: m.ImportScreen })),
          },
          {
            path: 'records/export',
            lazy: () => import('./screens/io/export-screen').then((m) => ({ Component: m.ExportScreen })),
          },
          {
            path: 'records/summary',
            lazy: () => import('./screens/io/summary-screen').then((m) => ({ Component: m.SummaryScreen })),
          },
          {
            path: 'medicines/today',
            lazy: () =>
              import('./screens/medicines/today-screen').then((m) => ({ Component: m.TodayMedicinesScreen })),
          },
          {
            path: 'visits/:id',
            lazy: () => import('./screens/visit/visit-screen').then((m) => ({ Component: m.VisitScreen })),
          },
          {
            path: 'records/share',
            lazy: () => import('./screens/io/share-screen').then((m) => ({ Component: m.ShareScreen })),
          },
          {
            path: 'care/sharing',
            lazy: () => import('./care/share/sharing-screen').then((m) => ({ Component: m.SharingScreen })),
          },
          {
            path: 'care/sharing/new',
            lazy: () =>
              import('./care/share/new-share-screen').then((m) => ({ Component: m.NewShareScreen })),
          },
          {
            path: 'care/sharing/:grantId/change',
            lazy: () =>
              import('./care/share/change-share-screen').then((m) => ({ Component: m.ChangeShareScreen })),
          },
          {
            path: 'care/sharing/cosign/:signerId',
            lazy: () =>
              import('./care/share/cosign-share-screen').then((m) => ({ Component: m.CosignShareScreen })),
          },
          {
            path: 'care/access',
            lazy: () => import('./care/access/access-screen').then((m) => ({ Component: m.AccessScreen })),
          },
          {
            path: 'care/messages',
            lazy: () => import('./care/messages/inbox-screen').then((m) => ({ Component: m.MessagesScreen })),
          },
          {
            path: 'care/messages/new',
            lazy: () =>
              import('./care/messages/new-message-screen').then((m) => ({ Component: m.NewMessageScreen })),
          },
          {
            path: 'care/messages/:patientId/:threadId',
            lazy: () => import('./care/messages/thread-screen').then((m) => ({ Component: m.ThreadScreen })),
          },
          {
            path: 'care/appointments',
            lazy: () =>
              import('./care/appointments/appointments-screen').then((m) => ({
                Component: m.AppointmentsScreen,
              })),
          },
          {
            path: 'care/appointments/new',
            lazy: () => import('./care/appointments/book-screen').then((m) => ({ Component: m.BookScreen })),
          },
          {
            path: 'care/plans',
            lazy: () => import('./care/plans/plans-screen').then((m) => ({ Component: m.PlansScreen })),
          },
          {
            path: 'care/plans/:id',
            lazy: () => import('./care/plans/plan-screen').then((m) => ({ Component: m.PlanScreen })),
          },
          ...WORKSPACE_ROUTES,
          { path: '*', element: <FullScreenMessage notFound /> },
        ],
      },
    ],
  },
]);

/**
 * Loads every screen's code in the background once the chart is open, so a screen opens offline later
 * (until the installed app's service worker keeps them).
 */
export const preloadScreens = (): Promise<unknown> =>
  Promise.allSettled([
    import('./screens/start/start-screen'),
    import('./screens/start/create-account'),
    import('./screens/start/join-screen'),
    import('./screens/start/unlock-screen'),
    import('./layout/app-layout'),
    import('./screens/home/home-screen'),
    import('./records/record-list'),
    import('./records/record-form'),
    import('./records/record-detail'),
    import('./screens/documents/upload-screen'),
    import('./screens/labs/lab-trends'),
    import('./screens/emergency/emergency-card'),
    import('./screens/problems/problems-screen'),
    import('./screens/settings/settings-screen'),
    import('./screens/search/search-screen'),
    import('./screens/io/import-screen'),
    import('./screens/io/export-screen'),
    import('./screens/io/summary-screen'),
    import('./screens/io/share-screen'),
    import('./care/share/sharing-screen'),
    import('./care/share/new-share-screen'),
    import('./care/share/cosign-share-screen'),
    import('./care/access/access-screen'),
    import('./care/messages/inbox-screen'),
    import('./care/messages/new-message-screen'),
    import('./care/messages/thread-screen'),
    import('./care/appointments/appointments-screen'),
    import('./care/appointments/book-screen'),
    import('./care/plans/plans-screen'),
    import('./care/plans/plan-screen'),
    import('./workspace/role-home'),
    preloadWorkspace(),
  ]);
