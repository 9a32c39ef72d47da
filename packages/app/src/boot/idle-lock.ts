/**
 * Locks the app after `minutes` without input (pointer, key, wheel, touch) while it is open. Timers are
 * the browser's; a hidden page counts as idle (its time runs on).
 */
import { useEffect } from 'react';

const EVENTS = ['pointerdown', 'pointermove', 'keydown', 'wheel', 'touchstart', 'scroll'] as const;

export const useIdleLock = (active: boolean, minutes: number, lock: () => void): void => {
  useEffect(() => {
    if (!active) return;
    const ms = minutes * 60_000;
    let last = Date.now();
    const touch = (): void => {
      last = Date.now();
    };
    for (const name of EVENTS) window.addEventListener(name, touch, { passive: true, capture: true });
    const timer = window.setInterval(() => {
      if (Date.now() - last >= ms) lock();
    }, 1000);
    return () => {
      window.clearInterval(timer);
      for (const name of EVENTS) window.removeEventListener(name, touch, { capture: true });
    };
  }, [active, minutes, lock]);
};
