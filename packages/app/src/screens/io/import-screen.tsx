/**
 * Import (`/records/import`): a FHIR R4 file (a Bundle of any common type, or NDJSON) dropped or picked →
 * the plan (nothing written yet) → the import with its progress → the report. Each imported record keeps
 * where it came from (record-origin.tsx shows it).
 *
 * | case | what the person sees |
 * |---|---|
 * | the file is over the import limit | refused before it is read, in words |
 * | the file is refused whole (malformed, hostile, not FHIR) | the reason in words and the paths at fault; nothing written |
 * | everything in it is imported already | the plan says so; the import button is off |
 * | the import stops midway | undone by the library; said, with what to do |
 * | the file names no person | the plan asks whose records these are; the import waits for the answer |
 * | the person stops the import | what was added stays, said with its count; the rest is not imported |
 * | the file holds what Hale does not import | the person may keep the file itself as a document, whole |
 */
import { useRef, useState, type DragEvent, type ReactNode } from 'react';
import { Alert, Anchor, Button, Checkbox, Group, Loader, Paper, Progress, Stack, Text } from '@mantine/core';
import { IconFileImport } from '@tabler/icons-react';
import { useTranslation } from 'react-i18next';
import { Link } from 'react-router';
import type { ImportReport } from '@hale/client';
import { MAX_IMPORT_BYTES, type FhirImportPlan } from '@hale/model';
import { PageHeader } from '../../ui/page-header';
import { formatBytes } from '../documents/file-ref';
import { FailureAlert } from './failure-alert';
import { ioFailure, refusalText, type IoFailure } from './io-errors';
import { PlanView, type PlanLike } from './plan-view';
import { useHaleSession } from '@hale/react';
import { addRecord } from '../../records/write';

type Step =
  | { readonly at: 'choose' }
  | { readonly at: 'reading'; readonly name: string }
  | { readonly at: 'refused'; readonly name: string; readonly failure: IoFailure }
  | { readonly at: 'plan'; readonly name: string; readonly bytes: Uint8Array; readonly plan: FhirImportPlan }
  | {
      readonly at: 'importing';
      readonly name: string;
      readonly done: number;
      readonly total: number;
    }
  | {
      readonly at: 'report';
      readonly name: string;
      readonly report: ImportReport;
      /** The document the file itself is kept as, when asked: its id, or why not. */
      readonly kept?: { readonly id: string } | { readonly failure: IoFailure };
    }
  | {
      readonly at: 'failed';
      readonly name: string;
      readonly bytes: Uint8Array;
      readonly plan: FhirImportPlan;
      readonly failure: IoFailure;
    };

const planLike = (plan: FhirImportPlan): PlanLike => ({
  records: plan.records.map((r) => ({
    kind: r.kind,
    resourceType: r.origin.resourceType,
    notKept: r.notKept,
  })),
  duplicates: plan.duplicates,
  skipped: plan.skipped,
  absorbed: plan.absorbed,
});

const reportLike = (report: ImportReport): PlanLike => ({
  records: report.imported,
  duplicates: report.duplicates,
  skipped: report.skipped,
  absorbed: report.absorbed,
});

export function ImportScreen(): ReactNode {
  const { t } = useTranslation();
  const session = useHaleSession();
  const [step, setStep] = useState<Step>({ at: 'choose' });
  const [over, setOver] = useState(false);
  // A file naming no person: imported only once the person said the records are theirs.
  const [mine, setMine] = useState(false);
  // A file with resources Hale does not import: the person may keep the file itself among the documents.
  const [keepFile, setKeepFile] = useState(false);
  const stop = useRef<AbortController | null>(null);

  const read = async (file: File | undefined): Promise<void> => {
    if (file === undefined) return;
    const name = file.name;
    if (file.size > MAX_IMPORT_BYTES) {
      setStep({
        at: 'refused',
        name,
        failure: {
          text: refusalText(t, 'TOO_LARGE'),
          details: [
            t('importer.sizeOf', { size: formatBytes(file.size), max: formatBytes(MAX_IMPORT_BYTES) }),
          ],
        },
      });
      return;
    }
    setStep({ at: 'reading', name });
    try {
      const bytes = new Uint8Array(await file.arrayBuffer());
      // Let the "reading" state paint before the plan (synchronous, a moment for a large file) runs.
      await new Promise((resolve) => setTimeout(resolve, 0));
      const plan = await session.io.planImport(bytes, { source: name });
      setMine(false);
      setKeepFile(false);
      setStep({ at: 'plan', name, bytes, plan });
    } catch (e) {
      setStep({ at: 'refused', name, failure: ioFailure(t, e) });
    }
  };

  const run = async (name: string, bytes: Uint8Array, plan: FhirImportPlan): Promise<void> => {
    setStep({ at: 'importing', name, done: 0, total: plan.records.length });
    const controller = new AbortController();
    stop.current = controller;
    try {
      const report = await session.io.importFhir(bytes, {
        source: name,
        plan,
        signal: controller.signal,
        ...(plan.noPatient ? { patientId: session.account.accountId } : {}),
        onProgress: ({ done, total }) => setStep({ at: 'importing', name, done, total }),
      });
      setStep({
        at: 'report',
        name,
        report,
        ...(keepFile ? { kept: await keepAsDocument(name, bytes) } : {}),
      });
    } catch (e) {
      setStep({ at: 'failed', name, bytes, plan, failure: ioFailure(t, e) });
    }
  };

  /** The file itself as a HealthDocument (`other`), queued for upload like any document. */
  const keepAsDocument = async (
    name: string,
    bytes: Uint8Array,
  ): Promise<{ readonly id: string } | { readonly failure: IoFailure }> => {
    try {
      const file = await session.files.enqueue({
        type: 'document',
        bytes,
        fileName: name.slice(0, 255),
        mediaType: /\.(ndjson|jsonl)$/i.test(name) ? 'application/x-ndjson' : 'application/fhir+json',
      });
      const doc = await addRecord(session, 'HealthDocument', {
        file,
        title: name.slice(0, 200),
        documentType: 'other',
        description: t('importer.keptDescription'),
      });
      return { id: doc.id };
    } catch (e) {
      return { failure: ioFailure(t, e) };
    }
  };

  const onDrop = (e: DragEvent<HTMLDivElement>): void => {
    e.preventDefault();
    setOver(false);
    void read(e.dataTransfer.files[0]);
  };

  const again = (
    <Button variant="default" onClick={() => setStep({ at: 'choose' })}>
      {t('importer.another')}
    </Button>
  );

  return (
    <Stack maw={900}>
      <PageHeader title={t('importer.title')} />
      {step.at === 'choose' && (
        <>
          <Text c="dimmed" size="sm">
            {t('importer.explain')}
          </Text>
          <Paper
            className="hale-drop"
            p="xl"
            data-over={over || undefined}
            onDragOver={(e) => {
              e.preventDefault();
              setOver(true);
            }}
            onDragLeave={() => setOver(false)}
            onDrop={onDrop}
            data-testid="import-drop"
          >
            <Stack align="center" gap="sm">
              <IconFileImport size={40} stroke={1.5} aria-hidden />
              <Text fw={600}>{t('importer.dropHere')}</Text>
              <Text size="sm" c="dimmed" ta="center">
                {t('importer.limits', { max: formatBytes(MAX_IMPORT_BYTES) })}
              </Text>
              <Button component="label" leftSection={<IconFileImport size={18} />}>
                {t('importer.pick')}
                <input
                  type="file"
                  hidden
                  accept=".json,.ndjson,.jsonl,application/json,application/fhir+json,application/x-ndjson"
                  data-testid="import-file"
                  onChange={(e) => {
                    void read(e.currentTarget.files?.[0]);
                    e.currentTarget.value = '';
                  }}
                />
              </Button>
            </Stack>
          </Paper>
          <Alert variant="light" color="gray">
            {t('importer.nothingYet')}
          </Alert>
        </>
      )}
      {step.at === 'reading' && (
        <Group>
          <Loader size="sm" />
          <Text aria-live="polite">{t('importer.reading', { name: step.name })}</Text>
        </Group>
      )}
      {step.at === 'refused' && (
        <>
          <FailureAlert
            failure={step.failure}
            title={t('importer.refusedTitle', { name: step.name })}
            testId="import-refused"
          />
          <Text size="sm">{t('importer.refusedNothing')}</Text>
          <Group>{again}</Group>
        </>
      )}
      {(step.at === 'plan' || step.at === 'failed') && (
        <>
          <Stack gap={2}>
            <Text fw={600} style={{ overflowWrap: 'anywhere' }}>
              {step.plan.source === step.name
                ? step.name
                : t('importer.planOf', { name: step.name, source: step.plan.source })}
            </Text>
            <Text c="dimmed" size="sm">
              {t('importer.nothingYet')}
            </Text>
          </Stack>
          {step.at === 'failed' && (
            <FailureAlert failure={step.failure} title={t('importer.failedTitle')} testId="import-failed" />
          )}
          {step.plan.noPatient && step.plan.records.length > 0 && (
            <Alert color="yellow" title={t('importer.whose')} data-testid="import-whose">
              <Checkbox
                label={t('importer.whoseMine')}
                checked={mine}
                onChange={(e) => setMine(e.currentTarget.checked)}
              />
            </Alert>
          )}
          {step.plan.skipped.length > 0 && step.plan.records.length > 0 && (
            <Checkbox
              label={t('importer.keepFile', { count: step.plan.skipped.length })}
              description={t('importer.keepFileExplain')}
              checked={keepFile}
              onChange={(e) => setKeepFile(e.currentTarget.checked)}
              data-testid="import-keep-file"
            />
          )}
          <Group>
            <Button
              onClick={() => void run(step.name, step.bytes, step.plan)}
              disabled={step.plan.records.length === 0 || (step.plan.noPatient && !mine)}
              leftSection={<IconFileImport size={18} />}
            >
              {step.plan.records.length === 0
                ? t('importer.nothingToDo')
                : t('importer.importN', { count: step.plan.records.length })}
            </Button>
            {again}
          </Group>
          <PlanView plan={planLike(step.plan)} done={false} />
        </>
      )}
      {step.at === 'importing' && (
        <Paper withBorder p="md">
          <Stack gap="xs">
            <Text fw={600} aria-live="polite" data-testid="import-progress">
              {t('importer.progress', { done: step.done, total: step.total })}
            </Text>
            <Progress
              value={step.total === 0 ? 100 : (step.done / step.total) * 100}
              aria-label={t('importer.progressLabel')}
              size="lg"
              animated
            />
            <Text size="sm" c="dimmed">
              {t('importer.stayHere')}
            </Text>
            <Group>
              <Button variant="default" onClick={() => stop.current?.abort()} data-testid="import-cancel">
                {t('importer.cancel')}
              </Button>
            </Group>
          </Stack>
        </Paper>
      )}
      {step.at === 'report' && (
        <>
          <Alert
            color={step.report.cancelled ? 'yellow' : 'teal'}
            title={t(step.report.cancelled ? 'importer.stoppedTitle' : 'importer.doneTitle')}
            data-testid="import-done"
          >
            {t('importer.done', { count: step.report.imported.length, source: step.report.source })}
          </Alert>
          {step.report.cancelled && (
            <Alert color="yellow" data-testid="import-cancelled">
              {t('importer.cancelled', { count: step.report.imported.length })}
            </Alert>
          )}
          {step.kept !== undefined &&
            ('id' in step.kept ? (
              <Alert color="teal" data-testid="import-kept">
                <Group gap="xs">
                  <Text size="sm">{t('importer.kept')}</Text>
                  <Anchor component={Link} to={`/chart/documents/${step.kept.id}`} size="sm">
                    {t('importer.keptOpen')}
                  </Anchor>
                </Group>
              </Alert>
            ) : (
              <FailureAlert
                failure={step.kept.failure}
                title={t('importer.keptFailed')}
                testId="import-kept-failed"
              />
            ))}
          {step.report.updated.length > 0 && (
            <Text size="sm">{t('importer.updated', { count: step.report.updated.length })}</Text>
          )}
          <PlanView plan={reportLike(step.report)} done />
          <Group>{again}</Group>
        </>
      )}
    </Stack>
  );
}
