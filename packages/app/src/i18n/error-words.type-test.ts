// Type-level check that the app's per-area error words are keyed on codes of the client's one error table:
// `npm run typecheck` fails when a key of one of these tables is not a HaleErrorCode (a code renamed, or
// mistyped). Every code's words in each language are ErrorWords tables (error-words-*.ts).
import type { HaleErrorCode } from '@hale/client';
import type { Translation } from './en';

type Codes<C extends HaleErrorCode> = C;

export type Checked = [
  Codes<keyof Translation['accountError']>,
  Codes<keyof Translation['recordError']>,
  Codes<keyof Translation['fileError']>,
  Codes<keyof Translation['pairing']['error']>,
  Codes<keyof Translation['care']['error']>,
  Codes<Exclude<keyof Translation['workspace']['error'], 'offline'>>,
];

// @ts-expect-error a key that is no code of the table fails: the check above can fail
export type NotACode = Codes<'NOT_CONNECTED'>;
