/**
 * Search the chart (`/search?q=`): the library's local search (`session.search`, MiniSearch over the
 * records this device holds, in memory, unlocked only; nothing searchable is written anywhere), ranked,
 * each hit with its kind and the field it matched in; live as records change.
 */
import { memo, useEffect, useRef, useState, type ReactNode } from 'react';
import { useDebouncedCallback } from '@mantine/hooks';
import { Anchor, Badge, Button, Group, Paper, Stack, Text, TextInput } from '@mantine/core';
import { IconSearch } from '@tabler/icons-react';
import { useTranslation } from 'react-i18next';
import { Link, useSearchParams } from 'react-router';
import { useSearch, useHaleSession } from '@hale/react';
import type { RecordKind, StoredRecord } from '@hale/client';
import { KINDS, slugOfKind } from '../../records/kinds';
import { recordSummary, recordTitle } from '../../records/format';
import { fieldsOf } from '../../records/write';
import { PageHeader } from '../../ui/page-header';

/** One hit; the library hands the same record object until it changes, so a hit kept across keystrokes is not drawn again. */
const HitRow = memo(function HitRow(props: {
  readonly stored: StoredRecord;
  readonly kind: RecordKind;
  readonly field: string;
  readonly me: string;
}): ReactNode {
  const { t } = useTranslation();
  const slug = slugOfKind(props.kind);
  if (slug === undefined) return null;
  const spec = KINDS[slug];
  const record = fieldsOf(props.stored.record);
  return (
    <Paper withBorder p="sm" data-testid="search-hit">
      <Group justify="space-between" wrap="nowrap" align="flex-start">
        <div style={{ minWidth: 0 }}>
          <Anchor component={Link} to={`/chart/${slug}/${String(record['id'])}`} fw={600}>
            {recordTitle(t, spec, record)}
          </Anchor>
          <Text size="sm" c="dimmed" truncate>
            {recordSummary(t, spec, record, props.me)}
          </Text>
        </div>
        <Stack gap={4} align="flex-end">
          <Badge variant="light">{t(`kinds.${slug}.one`)}</Badge>
          <Text size="xs" c="dimmed">
            {t('search.matchedIn', { field: t(`fields.${props.field}`, { defaultValue: props.field }) })}
          </Text>
        </Stack>
      </Group>
    </Paper>
  );
});

/** Hits drawn at first for a query (a keystroke draws no more than these); more on request. */
export const FIRST_HITS = 20;

function Results(props: { readonly q: string }): ReactNode {
  const { t } = useTranslation();
  const session = useHaleSession();
  // "Show more" holds for the query it was asked for; the next keystroke starts at FIRST_HITS again.
  const [more, setMore] = useState<{ readonly q: string; readonly limit: number } | null>(null);
  const limit = more?.q === props.q ? more.limit : FIRST_HITS;
  const results = useSearch(props.q, { limit });
  if (props.q.trim() === '') return null;
  const hits = results.hits.filter((h) => slugOfKind(h.kind) !== undefined);
  return (
    <Stack gap="xs" aria-live="polite" data-search-query={props.q} data-search-ready={results.ready}>
      <Text size="sm" c="dimmed">
        {results.ready ? t('search.count', { count: results.total }) : t('search.indexing')}
      </Text>
      {hits.map((hit) => (
        <HitRow
          key={`${hit.kind}-${hit.record.record.id}`}
          stored={hit.record}
          kind={hit.kind}
          field={hit.field}
          me={session.account.accountId}
        />
      ))}
      {results.hits.length < results.total && (
        <Button variant="subtle" onClick={() => setMore({ q: props.q, limit: limit + FIRST_HITS * 2 })}>
          {t('search.more', { count: results.total - results.hits.length })}
        </Button>
      )}
    </Stack>
  );
}

export function SearchScreen(): ReactNode {
  const { t } = useTranslation();
  const [params, setParams] = useSearchParams();
  const fromUrl = params.get('q') ?? '';
  // What is typed lives here; the address follows a moment later, so a keystroke redraws this screen only
  // (a new address redraws the whole frame, which follows the location).
  const [q, setQ] = useState(fromUrl);
  const written = useRef(fromUrl);
  useEffect(() => {
    if (fromUrl !== written.current) {
      written.current = fromUrl;
      setQ(fromUrl);
    }
  }, [fromUrl]);
  const here = useRef(window.location.pathname);
  const writeUrl = useDebouncedCallback((value: string) => {
    // Typed just before leaving: the query is not written onto the next screen's address.
    if (window.location.pathname !== here.current) return;
    written.current = value;
    setParams(value === '' ? {} : { q: value }, { replace: true });
  }, 400);
  return (
    <Stack maw={820}>
      <PageHeader title={t('search.title')} />
      <TextInput
        leftSection={<IconSearch size={18} />}
        placeholder={t('search.placeholder')}
        aria-label={t('search.title')}
        value={q}
        onChange={(e) => {
          setQ(e.currentTarget.value);
          writeUrl(e.currentTarget.value);
        }}
        autoFocus
        size="lg"
      />
      <Text size="sm" c="dimmed">
        {t('search.privacy')}
      </Text>
      <Results q={q} />
    </Stack>
  );
}
