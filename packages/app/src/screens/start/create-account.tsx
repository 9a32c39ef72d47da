/**
 * Create an account (`/start/create`), in three steps:
 *
 * | step | shows | next when |
 * |---|---|---|
 * | details | name, sign-in name, passphrase twice with its strength, this device's name | the passphrase is accepted (strong enough, both the same) and the account is made |
 * | key | the recovery key, once, with copy and print, and what losing it means | the person says it is kept |
 * | confirm | asks for one group of the key | the group typed matches; then the chart opens |
 *
 * The key is held only in this screen's memory; it is never stored. A vault that could not keep the
 * account (`notSaved`) is said, with a way to try again.
 */
import { useCallback, useEffect, useMemo, useState, type ReactNode } from 'react';
import {
  Alert,
  Button,
  Checkbox,
  CopyButton,
  Group,
  Paper,
  PasswordInput,
  Radio,
  Stack,
  Stepper,
  Text,
  TextInput,
  Title,
} from '@mantine/core';
import { IconCopy, IconPrinter } from '@tabler/icons-react';
import { useTranslation } from 'react-i18next';
import { Link } from 'react-router';
import type { CreatedHaleAccount } from '@hale/client';
import { useApp } from '../../boot/app-state';
import { addRecord } from '../../records/write';
import { accountErrorText } from './account-errors';
import { AccountForm, DeviceNameField, useDeviceName, useFormAction } from './account-form';
import { passphraseStrength } from './passphrase-strength';
import { StartFrame } from './start-frame';
import { NewPassphraseField } from './strength-meter';

export function CreateAccountScreen(): ReactNode {
  const { t } = useTranslation();
  const app = useApp();
  const [step, setStep] = useState(0);
  const [created, setCreated] = useState<CreatedHaleAccount | null>(null);
  const [mode, setMode] = useState<'open' | 'invite' | 'closed' | 'unknown'>('open');
  useEffect(() => {
    void app.hale?.registrationMode().then(setMode, () => setMode('unknown'));
  }, [app.hale]);

  return (
    <StartFrame>
      <Stack gap="lg" maw={640}>
        <Title order={1}>{t('create.title')}</Title>
        <Stepper active={step} size="sm" allowNextStepsSelect={false} className="hale-no-print">
          <Stepper.Step label={t('create.step1')} />
          <Stepper.Step label={t('create.step2')} />
          <Stepper.Step label={t('create.step3')} />
        </Stepper>
        {step === 0 && mode === 'closed' && (
          <Alert color="orange" title={t('create.closedTitle')}>
            <Stack gap="xs" align="flex-start">
              <Text size="sm">{t('create.closed')}</Text>
              <Button component={Link} to="/start/join" size="sm" variant="default">
                {t('start.join')}
              </Button>
            </Stack>
          </Alert>
        )}
        {step === 0 && mode !== 'closed' && (
          <DetailsStep
            invite={mode === 'invite'}
            onCreated={(c) => {
              setCreated(c);
              setStep(1);
            }}
          />
        )}
        {step === 1 && created !== null && <KeyStep created={created} onNext={() => setStep(2)} />}
        {step === 2 && created !== null && (
          <ConfirmStep
            recoveryKey={created.recoveryKey}
            onBack={() => setStep(1)}
            onDone={() => app.enter(created.session)}
          />
        )}
      </Stack>
    </StartFrame>
  );
}

function DetailsStep(props: {
  readonly invite: boolean;
  readonly onCreated: (c: CreatedHaleAccount) => void;
}): ReactNode {
  const { t } = useTranslation();
  const app = useApp();
  const [fullName, setFullName] = useState('');
  const [role, setRole] = useState<'patient' | 'provider'>('patient');
  const [loginName, setLoginName] = useState('');
  const [passphrase, setPassphrase] = useState('');
  const [again, setAgain] = useState('');
  const deviceName = useDeviceName();
  const [invite, setInvite] = useState('');
  const textOf = useCallback((e: unknown) => accountErrorText(t, e), [t]);
  const action = useFormAction(textOf);
  const [tried, setTried] = useState(false);
  const strength = useMemo(
    () => (passphrase === '' ? null : passphraseStrength(passphrase, [fullName, loginName, 'hale'])),
    [passphrase, fullName, loginName],
  );
  const mismatch = again !== '' && again !== passphrase;

  const submit = (): void => {
    setTried(true);
    if (strength === null || !strength.accepted || again !== passphrase || loginName.trim() === '') return;
    const hale = app.hale;
    if (hale === null) return;
    void action.run(async () => {
      const created = await hale.createAccount({
        role,
        passphrase,
        loginName,
        deviceName: deviceName.named(),
        ...(props.invite ? { invite } : {}),
      });
      if (fullName.trim() !== '' && role === 'patient') {
        await addRecord(created.session, 'Profile', { fullName: fullName.trim(), status: 'active' }).catch(
          () => undefined,
        );
      }
      props.onCreated(created);
    });
  };

  return (
    <AccountForm
      onSubmit={submit}
      error={action.error}
      errorTitle={t('create.failed')}
      working={action.busy ? t('create.working') : null}
      actionsJustify="space-between"
      actions={
        <>
          <Button variant="default" component={Link} to="/start">
            {t('common.back')}
          </Button>
          <Button type="submit" loading={action.busy}>
            {t('create.submit')}
          </Button>
        </>
      }
    >
      <Radio.Group
        label={t('workspace.signup.role')}
        value={role}
        onChange={(v) => setRole(v === 'provider' ? 'provider' : 'patient')}
      >
        <Group gap="lg" mt={6}>
          <Radio value="patient" label={t('workspace.signup.patient')} />
          <Radio value="provider" label={t('workspace.signup.provider')} />
        </Group>
      </Radio.Group>
      {role === 'provider' && (
        <Text size="sm" c="dimmed">
          {t('workspace.signup.providerExplain')}
        </Text>
      )}
      {role === 'patient' && (
        <TextInput
          label={t('create.fullName')}
          description={t('create.fullNameHint')}
          value={fullName}
          onChange={(e) => setFullName(e.currentTarget.value)}
          autoComplete="name"
        />
      )}
      <TextInput
        label={t('create.loginName')}
        description={t('create.loginNameHint')}
        withAsterisk
        value={loginName}
        onChange={(e) => setLoginName(e.currentTarget.value)}
        autoComplete="username"
        autoCapitalize="none"
        error={tried && loginName.trim() === '' ? t('fieldError.required') : undefined}
      />
      <NewPassphraseField
        label={t('create.passphrase')}
        description={t('create.passphraseHint')}
        required
        value={passphrase}
        onChange={setPassphrase}
        strength={strength}
        tried={tried}
      />
      <PasswordInput
        label={t('create.passphraseAgain')}
        withAsterisk
        value={again}
        onChange={(e) => setAgain(e.currentTarget.value)}
        autoComplete="new-password"
        error={mismatch || (tried && again !== passphrase) ? t('create.mismatch') : undefined}
      />
      <DeviceNameField name={deviceName} hint />
      {props.invite && (
        <TextInput
          label={t('create.invite')}
          description={t('create.inviteHint')}
          withAsterisk
          value={invite}
          onChange={(e) => setInvite(e.currentTarget.value)}
        />
      )}
      <Alert color="yellow" variant="light" title={t('create.lossTitle')}>
        {t('create.loss')}
      </Alert>
    </AccountForm>
  );
}

function KeyStep(props: { readonly created: CreatedHaleAccount; readonly onNext: () => void }): ReactNode {
  const { t } = useTranslation();
  const [kept, setKept] = useState(false);
  const [saveError, setSaveError] = useState<string | null>(props.created.notSaved?.message ?? null);
  const key = props.created.recoveryKey;
  return (
    <Paper withBorder p={{ base: 'md', sm: 'lg' }} className="hale-print-card">
      <Stack>
        <Title order={2} size="h3">
          {t('recovery.title')}
        </Title>
        <Text>{t('recovery.explain')}</Text>
        <Paper withBorder p="md" bg="var(--mantine-color-default-hover)">
          <Text
            ff="monospace"
            fz="xl"
            fw={600}
            data-testid="recovery-key"
            style={{ letterSpacing: '0.06em', overflowWrap: 'anywhere' }}
          >
            {key}
          </Text>
        </Paper>
        <Alert color="red" variant="light" title={t('create.lossTitle')}>
          {t('create.loss')}
        </Alert>
        {saveError !== null && (
          <Alert color="orange" title={t('recovery.notSavedTitle')} role="alert">
            <Stack gap="xs" align="flex-start">
              <Text size="sm">{t('recovery.notSaved')}</Text>
              {props.created.saveAgain !== undefined && (
                <Button
                  size="xs"
                  onClick={() => {
                    void props.created.saveAgain?.().then(
                      () => setSaveError(null),
                      (e: unknown) => setSaveError(e instanceof Error ? e.message : String(e)),
                    );
                  }}
                >
                  {t('recovery.saveAgain')}
                </Button>
              )}
            </Stack>
          </Alert>
        )}
        <Group className="hale-no-print">
          <CopyButton value={key}>
            {({ copied, copy }) => (
              <Button variant="default" leftSection={<IconCopy size={18} />} onClick={copy}>
                {copied ? t('recovery.copied') : t('recovery.copy')}
              </Button>
            )}
          </CopyButton>
          <Button variant="default" leftSection={<IconPrinter size={18} />} onClick={() => window.print()}>
            {t('recovery.print')}
          </Button>
        </Group>
        <Checkbox
          className="hale-no-print"
          label={t('recovery.kept')}
          checked={kept}
          onChange={(e) => setKept(e.currentTarget.checked)}
        />
        <Group justify="flex-end" className="hale-no-print">
          <Button disabled={!kept} onClick={props.onNext}>
            {t('common.continue')}
          </Button>
        </Group>
      </Stack>
    </Paper>
  );
}

function ConfirmStep(props: {
  readonly recoveryKey: string;
  readonly onBack: () => void;
  readonly onDone: () => void;
}): ReactNode {
  const { t } = useTranslation();
  const groups = props.recoveryKey.split('-');
  const [asked] = useState(() => 1 + Math.floor(Math.random() * Math.max(1, groups.length - 1)));
  const [typed, setTyped] = useState('');
  const [wrong, setWrong] = useState(false);
  const expected = groups[asked] ?? '';
  const check = (): void => {
    if (typed.normalize('NFKC').replace(/[\s-]/g, '').toUpperCase() === expected.toUpperCase())
      props.onDone();
    else setWrong(true);
  };
  return (
    <Paper withBorder p={{ base: 'md', sm: 'lg' }}>
      <form
        noValidate
        onSubmit={(e) => {
          e.preventDefault();
          check();
        }}
      >
        <Stack>
          <Title order={2} size="h3">
            {t('recovery.confirmTitle')}
          </Title>
          <Text>{t('recovery.confirmAsk', { n: asked + 1, total: groups.length })}</Text>
          <TextInput
            label={t('recovery.groupLabel', { n: asked + 1 })}
            value={typed}
            onChange={(e) => {
              setTyped(e.currentTarget.value);
              setWrong(false);
            }}
            autoCapitalize="characters"
            autoComplete="off"
            data-testid="recovery-group"
            data-group={asked + 1}
            error={wrong ? t('recovery.groupWrong') : undefined}
          />
          <Group justify="space-between">
            <Button variant="default" onClick={props.onBack}>
              {t('recovery.showAgain')}
            </Button>
            <Button type="submit">{t('recovery.finish')}</Button>
          </Group>
        </Stack>
      </form>
    </Paper>
  );
}
