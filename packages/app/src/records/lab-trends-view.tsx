/**
 * A lab test's trend, as the patient's trends screen (screens/labs/lab-trends.tsx) and the clinician's
 * chart (workspace/labs/lab-trends.tsx) show it: a chart over time with the reference range as a band and
 * out-of-range points marked, values converted to one unit where UCUM can (others charted apart, and said
 * so), an active plan's goal for the test as a dashed band (`usePlanGoal`), and a table of every result beside it, each linking to the result in the chart it is shown in
 * (records/chart-scope.tsx). `useTrends` groups a chart's results per test; `TrendPicker` chooses one
 * (`?test=`, the first test by name when none is asked).
 */
import { memo, useMemo, useState, type ReactElement, type ReactNode } from 'react';
import {
  Alert,
  Anchor,
  Badge,
  Button,
  Grid,
  Group,
  NativeSelect,
  Paper,
  Stack,
  Table,
  Text,
  Title,
} from '@mantine/core';
import { LineChart } from '@mantine/charts';
import { ReferenceArea } from 'recharts';
import { useTranslation } from 'react-i18next';
import { Link, useSearchParams } from 'react-router';
import { labTestKey, type RecordQuery } from '@hale/client';
import { useRecords } from '@hale/react';
import { ScrollTable } from '../ui/scroll-table';
import { formatDate } from './format';
import { patientQuery, useChartScope } from './chart-scope';
import { parseRange, type Range } from '../screens/labs/range';
import { buildTrends, type LabInput, type TestTrend, type UnitSeries } from '../screens/labs/series';
import { chartData, round } from '../screens/labs/chart-data';

const DOTS_UP_TO = 100;
/** Rows of the table shown at first (newest first); the rest on request. */
const TABLE_ROWS = 100;

/** The out-of-range series' dot: a circle where a result is out of range, nothing elsewhere. */
function FlaggedDot(props: {
  readonly cx?: number;
  readonly cy?: number;
  readonly index?: number;
}): ReactElement {
  const { cx, cy, index } = props;
  if (cx === undefined || cy === undefined) return <g key={index} />;
  return <circle key={index} cx={cx} cy={cy} r={6} fill="var(--mantine-color-red-7)" />;
}

const lineProps = (s: { name: string }) =>
  s.name === 'flagged' ? { strokeWidth: 0, dot: FlaggedDot, activeDot: { r: 7 } } : {};

/** An active plan's goal for a test: its target as written and as a range, and the plan's summary. */
export interface PlanGoalBand {
  readonly target: string;
  readonly range: Range;
  readonly plan: string;
}

/** The goal an active plan of this chart sets for the test `key` (labTestKey), if its target reads as a range. */
export function usePlanGoal(key: string): PlanGoalBand | null {
  const scope = useChartScope();
  const plans = useRecords('TreatmentPlan', patientQuery(scope));
  return useMemo(() => {
    for (const p of plans.items) {
      const goal = p.record.goal;
      if (p.record.status !== 'active' || goal === undefined || labTestKey(goal) !== key) continue;
      const range = parseRange(goal.target);
      if (range !== null) return { target: goal.target, range, plan: p.record.summary };
    }
    return null;
  }, [plans, key]);
}

const SeriesChart = memo(function SeriesChart(props: {
  readonly series: UnitSeries;
  readonly name: string;
  readonly goal?: PlanGoalBand | null;
}): ReactNode {
  const { t } = useTranslation();
  const { series, name, goal } = props;
  const { data, lo, hi, pad } = useMemo(() => chartData(series), [series]);
  const chartSeries = useMemo(
    () => [
      { name: 'value', label: series.units === '' ? name : `${name} (${series.units})`, color: 'hale.6' },
      { name: 'flagged', label: t('trends.outOfRange'), color: 'red.7' },
    ],
    [series.units, name, t],
  );
  const yAxisProps = useMemo(
    () => ({
      domain: [round(lo - pad), round(hi + pad)],
      tickFormatter: (v: number) => String(Number(v.toPrecision(3))),
    }),
    [lo, hi, pad],
  );
  return (
    <figure
      style={{ margin: 0 }}
      aria-label={t('trends.chartLabel', { name: props.name, units: series.units || '—' })}
    >
      <LineChart
        h={280}
        data={data}
        dataKey="date"
        yAxisProps={yAxisProps}
        series={chartSeries}
        lineProps={lineProps}
        curveType="linear"
        // A dot per result is drawn up to DOTS_UP_TO results (out-of-range ones always are); the date axis
        // labels every nth result past that, so no tick is measured for the others.
        withDots={data.length <= DOTS_UP_TO}
        xAxisProps={data.length > DOTS_UP_TO ? { interval: Math.ceil(data.length / 8) - 1 } : {}}
        withLegend
        connectNulls={false}
        valueFormatter={(v) => `${v} ${series.units}`.trim()}
      >
        {series.range !== null && (
          <ReferenceArea
            y1={series.range.low ?? round(lo - pad)}
            y2={series.range.high ?? round(hi + pad)}
            fill="var(--mantine-color-teal-5)"
            fillOpacity={0.12}
            ifOverflow="extendDomain"
          />
        )}
        {goal != null && (
          <ReferenceArea
            y1={goal.range.low ?? round(lo - pad)}
            y2={goal.range.high ?? round(hi + pad)}
            fill="none"
            stroke="var(--mantine-color-violet-7)"
            strokeDasharray="6 4"
            ifOverflow="extendDomain"
          />
        )}
      </LineChart>
      <figcaption>
        <Text size="xs" c="dimmed">
          {series.range === null
            ? t('trends.noRange')
            : t('trends.rangeBand', {
                low: series.range.low ?? '—',
                high: series.range.high ?? '—',
                units: series.units,
              })}
        </Text>
        {goal != null && (
          <Text size="xs" c="dimmed" data-testid="trend-goal">
            {t('trends.goalBand', { target: goal.target, plan: goal.plan })}
          </Text>
        )}
      </figcaption>
    </figure>
  );
});

export function TrendView(props: { readonly trend: TestTrend }): ReactNode {
  const { t } = useTranslation();
  const { trend } = props;
  const [main, ...apart] = trend.series;
  const goal = usePlanGoal(trend.key);
  return (
    <Grid>
      <Grid.Col span={{ base: 12, lg: 7 }}>
        <Stack>
          {main === undefined ? (
            <Text c="dimmed">{t('trends.noNumbers')}</Text>
          ) : (
            <Paper withBorder p="md">
              <SeriesChart series={main} name={trend.name} goal={goal} />
            </Paper>
          )}
          {apart.length > 0 && (
            <Alert color="yellow" title={t('trends.apartTitle')}>
              {t('trends.apart', {
                units: apart.map((s) => s.units || t('trends.noUnits')).join(', '),
                target: main?.units ?? '',
              })}
            </Alert>
          )}
          {apart.map((s) => (
            <Paper withBorder p="md" key={s.units} data-testid="apart-series">
              <SeriesChart series={s} name={trend.name} />
            </Paper>
          ))}
        </Stack>
      </Grid.Col>
      <Grid.Col span={{ base: 12, lg: 5 }}>
        <TrendTable trend={trend} />
      </Grid.Col>
    </Grid>
  );
}

/** Every result of the test, newest first: the first TABLE_ROWS, the rest on request. */
function TrendTable(props: { readonly trend: TestTrend }): ReactNode {
  const { t } = useTranslation();
  const { trend } = props;
  const scope = useChartScope();
  // "Show all" holds for the test it was asked for; another test starts at TABLE_ROWS again.
  const [allFor, setAllFor] = useState<string | null>(null);
  const showAll = allFor === trend.key;
  const allRows = useMemo(
    () =>
      trend.series
        .flatMap((s) => s.points.map((p) => ({ ...p, unit: s.units })))
        .sort((a, b) => (a.at < b.at ? 1 : -1)),
    [trend],
  );
  const rows = showAll ? allRows : allRows.slice(0, TABLE_ROWS);
  return (
    <Paper withBorder>
      <ScrollTable label={t('trends.tableLabel', { name: trend.name })} minWidth={320}>
        <Table striped aria-label={t('trends.tableLabel', { name: trend.name })} data-testid="trend-table">
          <Table.Thead>
            <Table.Tr>
              <Table.Th>{t('fields.effectiveAt')}</Table.Th>
              <Table.Th>{t('fields.value')}</Table.Th>
              <Table.Th>{t('trends.asCharted')}</Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {rows.map((r) => (
              <Table.Tr key={r.id}>
                <Table.Td>
                  <Anchor component={Link} to={`${scope.base}/labs/${r.id}`}>
                    {formatDate(r.at)}
                  </Anchor>
                </Table.Td>
                <Table.Td>
                  <Group gap={6} wrap="nowrap">
                    <span>
                      {r.original} {r.originalUnits}
                    </span>
                    {(r.flag === 'high' || r.flag === 'low') && (
                      <Badge color="red" size="sm" variant="filled">
                        {t(`trends.flag.${r.flag}`)}
                      </Badge>
                    )}
                  </Group>
                </Table.Td>
                <Table.Td>
                  {round(r.value)} {r.unit}
                </Table.Td>
              </Table.Tr>
            ))}
            {trend.textResults.map((l) => (
              <Table.Tr key={l.id}>
                <Table.Td>{formatDate(l.effectiveAt)}</Table.Td>
                <Table.Td>{String(l.value)}</Table.Td>
                <Table.Td>{t('trends.text')}</Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      </ScrollTable>
      {rows.length < allRows.length && (
        <Button variant="subtle" m="xs" onClick={() => setAllFor(trend.key)}>
          {t('trends.showAll', { count: allRows.length })}
        </Button>
      )}
    </Paper>
  );
}

/** The chart's results (`query`: whose chart) grouped per test, by name. */
export function useTrends(query: RecordQuery): TestTrend[] {
  const labs = useRecords('LabResult', query);
  return useMemo(
    () =>
      buildTrends(
        labs.items.map((s): LabInput => ({
          id: s.record.id,
          testName: s.record.testName,
          ...(s.record.testCode === undefined ? {} : { testCode: s.record.testCode }),
          ...(s.record.value === undefined ? {} : { value: s.record.value }),
          ...(s.record.units === undefined ? {} : { units: s.record.units }),
          ...(s.record.referenceRange === undefined ? {} : { referenceRange: s.record.referenceRange }),
          effectiveAt: s.record.effectiveAt,
          status: s.record.status,
        })),
      ),
    [labs],
  );
}

/** The test the address asks for (`?test=`), else the first. */
export function useChosenTrend(trends: readonly TestTrend[]): TestTrend | undefined {
  const [params] = useSearchParams();
  return trends.find((tr) => tr.key === params.get('test')) ?? trends[0];
}

/** The choice of test, and the chosen test's trend under its name. */
export function TrendPicker(props: { readonly trends: readonly TestTrend[] }): ReactNode {
  const { t } = useTranslation();
  const [, setParams] = useSearchParams();
  const chosen = useChosenTrend(props.trends);
  return (
    <>
      <NativeSelect
        label={t('trends.test')}
        value={chosen?.key}
        data={props.trends.map((tr) => ({ value: tr.key, label: tr.name }))}
        onChange={(e) => setParams({ test: e.currentTarget.value }, { replace: true })}
        maw={420}
      />
      {chosen !== undefined && (
        <>
          <Title order={2} size="h3">
            {chosen.name}
          </Title>
          <TrendView trend={chosen} />
        </>
      )}
    </>
  );
}
