import { describe, expect, it } from 'vitest';
import { lockedStartPath, readAccountHint, writeAccountHint } from './account-hint';

const memory = (): Storage => {
  const map = new Map<string, string>();
  return {
    getItem: (k) => map.get(k) ?? null,
    setItem: (k, v) => void map.set(k, v),
    removeItem: (k) => void map.delete(k),
    clear: () => map.clear(),
    key: () => null,
    get length() {
      return map.size;
    },
  };
};

describe('account hint', () => {
  it('sends a locked device at a chart address to unlock, keeping where it was going', () => {
    const storage = memory();
    const at = { pathname: '/chart/allergies', search: '?q=1', hash: '#pair=ABC' };
    expect(lockedStartPath(at, storage)).toBeNull();
    writeAccountHint(storage, true);
    expect(readAccountHint(storage)).toBe(true);
    expect(lockedStartPath(at, storage)).toBe('/unlock?next=%2Fchart%2Fallergies%3Fq%3D1#pair=ABC');
    expect(lockedStartPath({ pathname: '/', search: '', hash: '' }, storage)).toBe('/unlock?next=%2F');
    expect(lockedStartPath({ pathname: '/unlock', search: '?next=%2F', hash: '' }, storage)).toBeNull();
    expect(lockedStartPath({ pathname: '/start/join', search: '', hash: '' }, storage)).toBeNull();
    writeAccountHint(storage, false);
    expect(lockedStartPath(at, storage)).toBeNull();
  });

  it('a storage that throws reads as no hint', () => {
    const broken = {
      getItem: () => {
        throw new Error('denied');
      },
    };
    expect(readAccountHint(broken)).toBe(false);
    expect(lockedStartPath({ pathname: '/x', search: '', hash: '' }, broken)).toBeNull();
  });
});
