// The page's entry: styles, then the app.
import '@mantine/core/styles.css';
import '@mantine/dates/styles.css';
import '@mantine/notifications/styles.css';
import '@mantine/charts/styles.css';
import './app.css';
import { startApp } from './index';

const root = document.getElementById('root');
if (root !== null) void startApp(root);
