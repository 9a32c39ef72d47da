/**
 * Search the chart (`/search?q=`): matches in every kind's records as this device holds them (in memory,
 * over unlocked records only; nothing searchable is written anywhere). Interim: it reads each kind's
 * list and matches the text of its rows; the library's `session.search` (MiniSearch) replaces the matching
 * when it lands, behind the same screen.
 */
import { useDeferredValue, useMemo, type ReactNode } from 'react';
import { Anchor, Paper, Stack, Text, TextInput } from '@mantine/core';
import { IconSearch } from '@tabler/icons-react';
import { useTranslation } from 'react-i18next';
import { Link, useSearchParams } from 'react-router';
import { useRecords } from '@hale/react';
import { useOpenSession } from '../../boot/app-state';
import { KIND_SLUGS, KINDS, type KindSlug } from '../../records/kinds';
import { recordSummary, recordTitle } from '../../records/format';
import { fieldsOf } from '../../records/write';
import { PageHeader } from '../../ui/page-header';

const textOf = (record: Readonly<Record<string, unknown>>): string =>
  Object.values(record)
    .filter((v): v is string | number => typeof v === 'string' || typeof v === 'number')
    .join(' ')
    .toLowerCase();

function KindMatches(props: { readonly slug: KindSlug; readonly q: string }): ReactNode {
  const { t } = useTranslation();
  const session = useOpenSession();
  const spec = KINDS[props.slug];
  const page = useRecords(spec.kind, { sort: 'clinical' });
  const hits = useMemo(() => {
    const words = props.q.toLowerCase().split(/\s+/).filter(Boolean);
    if (words.length === 0) return [];
    return page.items
      .map((item) => fieldsOf(item.record))
      .filter((r) => {
        const text = textOf(r);
        return words.every((w) => text.includes(w));
      })
      .slice(0, 20);
  }, [page, props.q]);
  if (hits.length === 0) return null;
  return (
    <Paper withBorder p="md">
      <Text fw={700} size="sm" c="dimmed" tt="uppercase" mb="xs">
        {t(`kinds.${props.slug}.title`)}
      </Text>
      <Stack gap={6}>
        {hits.map((r) => (
          <div key={String(r['id'])}>
            <Anchor component={Link} to={`/chart/${props.slug}/${String(r['id'])}`} fw={600}>
              {recordTitle(t, spec, r)}
            </Anchor>
            <Text size="sm" c="dimmed">
              {recordSummary(t, spec, r, session.account.accountId)}
            </Text>
          </div>
        ))}
      </Stack>
    </Paper>
  );
}

export function SearchScreen(): ReactNode {
  const { t } = useTranslation();
  const [params, setParams] = useSearchParams();
  const q = params.get('q') ?? '';
  const deferred = useDeferredValue(q);
  return (
    <Stack maw={820}>
      <PageHeader title={t('search.title')} />
      <TextInput
        leftSection={<IconSearch size={18} />}
        placeholder={t('search.placeholder')}
        aria-label={t('search.title')}
        value={q}
        onChange={(e) =>
          setParams(e.currentTarget.value === '' ? {} : { q: e.currentTarget.value }, { replace: true })
        }
        autoFocus
        size="lg"
      />
      <Text size="sm" c="dimmed">
        {t('search.privacy')}
      </Text>
      {KIND_SLUGS.map((slug) => (
        <KindMatches key={slug} slug={slug} q={deferred} />
      ))}
    </Stack>
  );
}
