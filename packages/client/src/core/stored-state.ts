/**
 * Which module keeps which device metadata (store/device-meta.ts). Each module names the schemas of the
 * values it keeps in its own `stored-state.ts` and registers them here under its name.
 *
 * Invariants:
 * - A schema name belongs to one module: registering it for another throws.
 * - A module registering again (its file evaluated anew) replaces its own names.
 */
import type { TSchema } from '@sinclair/typebox';

/** Schema name → the module that keeps it. */
const owners = new Map<string, string>();

/** Registers `schemas` as kept by `module`, and answers them. */
export const storedState = <const S extends Record<string, TSchema>>(module: string, schemas: S): S => {
  for (const name of Object.keys(schemas)) {
    const owner = owners.get(name);
    if (owner !== undefined && owner !== module) {
      throw new Error(`stored state "${name}" of ${module} is already kept by ${owner}`);
    }
    owners.set(name, module);
  }
  return schemas;
};

/** The schema names registered so far, each with the module that keeps it. */
export const storedStateOwners = (): ReadonlyMap<string, string> => new Map(owners);
