// Type-level check that the app's per-area error words are keyed on codes of the client's one error table
// (and a write rule's words on the model's rule codes): `npm run typecheck` fails when a key of one of these
// tables is not a code (renamed, or mistyped). Every code's words in each language: error-words-*.ts.
import type { HaleErrorCode } from '@hale/client';
import type { WriteRuleCode } from '@hale/model';
import type { Translation } from './en';

type Codes<C extends HaleErrorCode> = C;
type Rules<C extends WriteRuleCode> = C;

export type Checked = [
  Codes<keyof Translation['accountError']>,
  Codes<keyof Translation['recordError']>,
  Codes<keyof Translation['fileError']>,
  Codes<keyof Translation['pairing']['error']>,
  Codes<keyof Translation['care']['error']>,
  Codes<Exclude<keyof Translation['workspace']['error'], 'offline'>>,
  Rules<keyof Translation['fieldError']['rule']>,
];

// @ts-expect-error a key that is no code of the table fails: the check above can fail
export type NotACode = Codes<'NOT_CONNECTED'>;
