// `@hale/app`: `startApp(element)` mounts the Hale app (the page's entry is main.tsx; the desktop shell
// loads the same build).
export { startApp } from './root';
