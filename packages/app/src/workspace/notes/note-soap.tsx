/** A note's body as it reads now (note-actions.ts `noteBody`), one line per SOAP part that has text. */
import type { ReactNode } from 'react';
import { Text } from '@mantine/core';
import { useTranslation } from 'react-i18next';
import type { RecordOf } from '@hale/client';
import { SOAP } from './note-actions';

export function NoteSoap(props: { readonly body: readonly RecordOf<'NoteVersion'>[] }): ReactNode {
  const { t } = useTranslation();
  return SOAP.map((f) => {
    const text = props.body
      .map((v) => v[f] ?? '')
      .filter((x) => x.trim() !== '')
      .join('\n');
    return text === '' ? null : (
      <Text key={f} size="sm" style={{ whiteSpace: 'pre-wrap' }}>
        <b>{t(`fields.${f}`)}:</b> {text}
      </Text>
    );
  });
}
