// The preload (bundled to dist/preload.cjs; sandboxed: only `contextBridge` and `ipcRenderer` exist here).
// Exposes the one bridge object as `window.hale`; nothing of Electron or IPC itself reaches the page.
import { contextBridge, ipcRenderer } from 'electron';
import { createBridge } from './bridge';

contextBridge.exposeInMainWorld('hale', createBridge(ipcRenderer));
