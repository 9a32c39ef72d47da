// The app's home (`/`) by role: a clinician's is the workspace's day; a patient's is the patient home.
import type { ReactNode } from 'react';
import { Navigate } from 'react-router';
import { HomeScreen } from '../screens/home/home-screen';
import { useHaleSession } from '@hale/react';

export function RoleHome(): ReactNode {
  const session = useHaleSession();
  return session.account.role === 'provider' ? <Navigate to="/workspace/today" replace /> : <HomeScreen />;
}
