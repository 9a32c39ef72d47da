/**
 * The records of one kind (`/chart/:slug`), newest by clinical date first, in a virtualised list (only the
 * rows in view are in the DOM: a chart of 20,000 records scrolls as one of 20), with a filter on the
 * rows' text and a way to add one.
 */
import { memo, useLayoutEffect, useMemo, useRef, useState, type ReactNode } from 'react';
import { Badge, Button, Group, Paper, Stack, Text, TextInput } from '@mantine/core';
import { useWindowVirtualizer } from '@tanstack/react-virtual';
import { IconPlus, IconSearch } from '@tabler/icons-react';
import { useTranslation } from 'react-i18next';
import { Link, Navigate, useParams } from 'react-router';
import { useRecords, useHaleSession } from '@hale/react';
import { isKindSlug, KINDS, type KindSpec } from './kinds';
import { recordSummary, recordTitle } from './format';
import { fieldsOf } from './write';
import { patientQuery, useChartScope } from './chart-scope';
import { PageHeader } from '../ui/page-header';
import { ProblemsFor } from '../screens/problems/problems-inline';

export function RecordListScreen(): ReactNode {
  const { slug } = useParams();
  if (!isKindSlug(slug)) return <Navigate to="/" replace />;
  return <RecordList key={slug} spec={KINDS[slug]} />;
}

const ROW_HEIGHT = 72;

function RecordList(props: { readonly spec: KindSpec }): ReactNode {
  const { spec } = props;
  const { t } = useTranslation();
  const session = useHaleSession();
  const me = session.account.accountId;
  const scope = useChartScope();
  const page = useRecords(spec.kind, { sort: 'clinical', ...patientQuery(scope) });
  const [filter, setFilter] = useState('');
  // A row is made once per record version: the library hands the same record object until it changes.
  const made = useMemo(() => new WeakMap<object, Row>(), [spec, t, me]);
  const rows = useMemo(() => {
    const all = page.items.map((item) => {
      const held = made.get(item);
      if (held !== undefined) return held;
      const record = fieldsOf(item.record);
      const row: Row = {
        id: item.record.id,
        title: recordTitle(t, spec, record),
        summary: recordSummary(t, spec, record, me),
        conflict: item.conflict,
        inactive: record['active'] === false,
      };
      made.set(item, row);
      return row;
    });
    const q = filter.trim().toLowerCase();
    return q === '' ? all : all.filter((r) => `${r.title} ${r.summary}`.toLowerCase().includes(q));
  }, [page, filter, spec, t, me, made]);

  const addTo = spec.uploaded ? '/documents/upload' : `${scope.base}/${spec.slug}/new`;
  const canAdd = scope.canWrite(spec.kind) && (!spec.uploaded || scope.patientId === undefined);

  return (
    <Stack>
      <PageHeader
        title={t(`kinds.${spec.slug}.title`)}
        actions={
          canAdd ? (
            <Button component={Link} to={addTo} leftSection={<IconPlus size={18} />}>
              {t(`kinds.${spec.slug}.add`)}
            </Button>
          ) : undefined
        }
      />
      <ProblemsFor kind={spec.kind} />
      {page.total > 0 && (
        <TextInput
          leftSection={<IconSearch size={16} />}
          placeholder={t('records.filter')}
          aria-label={t('records.filter')}
          value={filter}
          onChange={(e) => setFilter(e.currentTarget.value)}
          maw={420}
        />
      )}
      {page.total === 0 ? (
        <Paper withBorder p="xl">
          <Stack align="flex-start">
            <Text fw={600}>{t(`kinds.${spec.slug}.empty`)}</Text>
            <Text c="dimmed" size="sm">
              {t(`kinds.${spec.slug}.emptyHint`)}
            </Text>
          </Stack>
        </Paper>
      ) : (
        <Paper withBorder>
          <Text size="sm" c="dimmed" px="md" pt="sm" aria-live="polite">
            {t('records.count', { count: rows.length })}
          </Text>
          <VirtualRows
            rows={rows}
            label={t(`kinds.${spec.slug}.title`)}
            base={`${scope.base}/${spec.slug}`}
            total={page.total}
          />
        </Paper>
      )}
    </Stack>
  );
}

interface Row {
  readonly id: string;
  readonly title: string;
  readonly summary: string;
  readonly conflict: boolean;
  readonly inactive: boolean;
}

/**
 * The list itself: the virtualizer's state lives here, so a scroll re-renders the rows in view, not the
 * screen around them; a row already shown is not rendered again (`RecordRow` is memoised).
 */
function VirtualRows(props: {
  readonly rows: readonly Row[];
  readonly label: string;
  readonly base: string;
  readonly total: number;
}): ReactNode {
  const { rows } = props;
  const listRef = useRef<HTMLUListElement>(null);
  const [margin, setMargin] = useState(0);
  useLayoutEffect(() => {
    const top = listRef.current?.getBoundingClientRect().top;
    if (top !== undefined) setMargin(top + window.scrollY);
  }, [props.total]);
  const virtualizer = useWindowVirtualizer({
    count: rows.length,
    estimateSize: () => ROW_HEIGHT,
    overscan: 8,
    scrollMargin: margin,
  });
  return (
    <ul
      ref={listRef}
      role="list"
      aria-label={props.label}
      style={{
        height: virtualizer.getTotalSize(),
        position: 'relative',
        listStyle: 'none',
        margin: 0,
        padding: 0,
      }}
    >
      {virtualizer.getVirtualItems().map((item) => {
        const row = rows[item.index];
        if (row === undefined) return null;
        return (
          <li
            key={row.id}
            data-index={item.index}
            ref={virtualizer.measureElement}
            style={{
              position: 'absolute',
              top: 0,
              left: 0,
              width: '100%',
              transform: `translateY(${item.start - virtualizer.options.scrollMargin}px)`,
            }}
          >
            <RecordRow row={row} to={`${props.base}/${row.id}`} />
          </li>
        );
      })}
    </ul>
  );
}

const RecordRow = memo(function RecordRow(props: { readonly row: Row; readonly to: string }): ReactNode {
  const { t } = useTranslation();
  const { row } = props;
  return (
    <Link to={props.to} className="hale-row-link" style={{ minHeight: ROW_HEIGHT }}>
      <Group justify="space-between" wrap="nowrap" px="md" py="sm" mih={ROW_HEIGHT}>
        <div style={{ minWidth: 0 }}>
          <Text fw={600} truncate>
            {row.title}
          </Text>
          <Text size="sm" c="dimmed" truncate>
            {row.summary}
          </Text>
        </div>
        <Group gap={6} wrap="nowrap">
          {row.inactive && (
            <Badge color="gray" variant="light">
              {t('records.inactive')}
            </Badge>
          )}
          {row.conflict && <Badge color="orange">{t('records.conflictBadge')}</Badge>}
        </Group>
      </Group>
    </Link>
  );
});
