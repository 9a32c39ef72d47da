/**
 * The access story on screen (story.ts): one line per person per day — who, when, what they did to which
 * kinds, what they tried and were refused, from which of their devices (by the names they gave them, else
 * a short id), what is unusual — with the raw signed entries one click deeper and, for a person whose
 * grant is in force, the way to end their access from the line itself.
 */
import { useState, type ReactNode } from 'react';
import { Badge, Button, Group, Paper, Stack, Text } from '@mantine/core';
import { useTranslation } from 'react-i18next';
import type { AccessRecord } from '@hale/client';
import { useGrants } from '@hale/react';
import { formatDate, shortId } from '../../records/format';
import { usePersonName } from '../people';
import { streamLabel } from '../streams';
import { holdersOf, inForce } from '../share/grant-state';
import { RevokeModal } from '../share/revoke-modal';
import { AccessEntries } from './access-entries';
import { accessStory, type StoryLine } from './story';

export function AccessStory(props: { readonly records: readonly AccessRecord[] }): ReactNode {
  const holders = holdersOf(useGrants());
  const lines = accessStory(props.records, (actor) => holders.has(actor));
  return (
    <Stack gap="xs" component="ul" m={0} p={0} style={{ listStyle: 'none' }} data-testid="access-story">
      {lines.slice(0, 200).map((line) => (
        <StoryLineView key={line.key} line={line} holder={holders.has(line.actorId)} />
      ))}
    </Stack>
  );
}

const capitalized = (text: string): string => text.charAt(0).toLocaleUpperCase() + text.slice(1);

const time = (at: string): string =>
  new Date(at).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });

function StoryLineView(props: { readonly line: StoryLine; readonly holder: boolean }): ReactNode {
  const { t, i18n } = useTranslation();
  const { line } = props;
  const name = usePersonName(line.actorId === '' ? undefined : line.actorId);
  const [open, setOpen] = useState(false);
  const [ending, setEnding] = useState(false);
  const grants = useGrants();
  const list = new Intl.ListFormat(i18n.language, { type: 'conjunction' });
  const kinds = list.format(line.kinds.map((k) => streamLabel(t, k)));
  const did = list.format(line.did.map((d) => t(`care.story.did.${d}`)));
  const [from, to] = [time(line.first), time(line.last)];
  const span = from === to ? from : `${from}–${to}`;
  const tried =
    line.tried.length === 0
      ? t('care.story.yourRecords')
      : list.format(line.tried.map((k) => streamLabel(t, k)));
  const done =
    line.did.length === 0 ? '' : line.kinds.length === 0 ? did : t('care.story.what', { did, kinds });
  const ended = line.hints.includes('after-end');
  const refused = !line.hints.includes('refused')
    ? ''
    : t(ended ? 'care.story.tried.afterEnd' : 'care.story.tried.notShared', { kinds: tried });
  const what =
    done !== '' && refused !== '' ? t('care.story.also', { what: done, tried: refused }) : done + refused;
  const devices =
    line.actorId === ''
      ? t('care.story.devices', { count: line.devices.length })
      : t('care.story.from', {
          name,
          devices: list.format(
            line.devices.map((d) =>
              d.name === undefined
                ? t('care.story.deviceId', { id: shortId(d.id) })
                : t('care.story.deviceName', { name: d.name }),
            ),
          ),
        });
  const entriesId = `story-entries-${line.key.replace(/[^A-Za-z0-9_-]/g, '_')}`;
  return (
    <li data-testid="story-line" data-actor={line.actorId} data-day={line.day}>
      <Paper withBorder p="sm">
        <Stack gap={6}>
          <Group justify="space-between" align="flex-start" wrap="wrap" gap="xs">
            <div style={{ minWidth: 0 }}>
              <Text fw={650} size="sm">
                {line.actorId === '' ? t('care.audit.sharedLink') : name}
              </Text>
              <Text size="sm" c="dimmed">
                {formatDate(line.day)} · {span}
              </Text>
            </div>
            <Group gap={4}>
              {line.hints.map((h) => (
                <Badge key={h} color="orange" variant="light" data-testid={`story-hint-${h}`}>
                  {t(`care.story.hint.${h}`)}
                </Badge>
              ))}
            </Group>
          </Group>
          <Text size="sm" data-testid="story-what">
            {capitalized([what, devices].filter((part) => part !== '').join(' · '))}
          </Text>
          <Group gap="xs">
            <Button
              size="xs"
              variant="subtle"
              aria-expanded={open}
              aria-controls={entriesId}
              onClick={() => setOpen((o) => !o)}
            >
              {t(open ? 'care.story.hideEntries' : 'care.story.showEntries', { count: line.records.length })}
            </Button>
            {props.holder && (
              <Button size="xs" variant="light" color="red" onClick={() => setEnding(true)}>
                {t('care.sharing.revokeNamed', { name })}
              </Button>
            )}
          </Group>
          {open && (
            <div id={entriesId}>
              <AccessEntries records={line.records} />
            </div>
          )}
        </Stack>
      </Paper>
      {ending && (
        <RevokeModal
          opened
          name={name}
          grantIds={grants
            .filter((g) => g.grant.granteeId === line.actorId && inForce(g))
            .map((g) => g.grant.grantId)}
          onClose={() => setEnding(false)}
        />
      )}
    </li>
  );
}
