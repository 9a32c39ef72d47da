// The page's entry: styles, then the app.
import '@mantine/core/styles.css';
import '@mantine/dates/styles.css';
import '@mantine/notifications/styles.css';
import '@mantine/charts/styles.css';
import './app.css';
import { lockedStartPath } from './boot/account-hint';

// A locked device starts at the unlock screen before the router loads any chart screen's code.
try {
  const start = lockedStartPath(location, localStorage);
  if (start !== null) history.replaceState(null, '', start);
} catch {
  // No storage here: the router's gates redirect instead.
}
const { startApp } = await import('./index');
const root = document.getElementById('root');
if (root !== null) void startApp(root);
