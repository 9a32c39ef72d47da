import { Type } from '@sinclair/typebox';
import { describe, expect, it } from 'vitest';
import { MODEL_RULES_REVISION, MODEL_VERSION, modelVersionOf } from './model-version';
import { RECORD_KINDS } from './registry';
import { STREAM_TYPES } from './stream-types';

describe('MODEL_VERSION', () => {
  it('is the identity of this build’s kinds, stream types and rules revision', () => {
    expect(MODEL_VERSION).toBe(modelVersionOf(RECORD_KINDS, STREAM_TYPES, MODEL_RULES_REVISION));
    expect(MODEL_VERSION).toMatch(new RegExp(`^${MODEL_RULES_REVISION}\\.[0-9a-z]+$`));
  });

  it('changes when a schema accepts one more optional field, a kind, a stream type or a rules revision', () => {
    const allergy = RECORD_KINDS.Allergy;
    const widened = {
      ...RECORD_KINDS,
      Allergy: {
        ...allergy,
        schema: Type.Object({ ...allergy.schema.properties, verifiedBy: Type.Optional(Type.String()) }),
      },
    };
    const versions = [
      MODEL_VERSION,
      modelVersionOf(widened, STREAM_TYPES, MODEL_RULES_REVISION),
      modelVersionOf(
        { ...RECORD_KINDS, Referral: { schema: Type.Object({}), streamType: 'referral' } },
        [...STREAM_TYPES, 'referral'],
        MODEL_RULES_REVISION,
      ),
      modelVersionOf(RECORD_KINDS, [...STREAM_TYPES, 'referral'], MODEL_RULES_REVISION),
      modelVersionOf(RECORD_KINDS, STREAM_TYPES, MODEL_RULES_REVISION + 1),
    ];
    expect(new Set(versions).size).toBe(versions.length);
  });

  it('is the same for the same rules, computed again', () => {
    const copy = JSON.parse(JSON.stringify(RECORD_KINDS)) as Record<string, unknown>;
    expect(modelVersionOf(copy, [...STREAM_TYPES], MODEL_RULES_REVISION)).toBe(MODEL_VERSION);
  });
});
