// The logger's promise (logger.ts, docs/operations.md "Logs"): a secret-bearing field name is censored
// wherever it sits in what a log call passes, so a careless `log.info({ body })` of a register request
// writes no wrapped root, signature, nonce or invite code; what is past the walk's bounds is not written
// either. Real pino, writing into memory.
import { Value } from '@sinclair/typebox/value';
import { describe, expect, it } from 'vitest';
import { WrappedRoot } from '@hale/protocol';
import { createLogger, REDACT_MAX_DEPTH, REDACT_MAX_VALUES } from './logger';
import { makeRegistration } from './testing/harness';

const INVITE_CODE = 'CSQPYRK1E8ABCDEFGH';

const capture = () => {
  const lines: string[] = [];
  const logger = createLogger('info', { write: (line: string) => void lines.push(line) });
  const parsed = (): Record<string, unknown>[] =>
    lines.map((line): Record<string, unknown> => {
      const value: unknown = JSON.parse(line);
      if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error(line);
      return Object.fromEntries(Object.entries(value));
    });
  return { logger, lines, parsed };
};

/** A register request as a client sends it, with every secret it carries, and those secrets. */
const registerBody = async () => {
  const { body } = await makeRegistration('patient');
  const request = { ...body, invite: INVITE_CODE };
  // The harness types the wrap loosely; read it as the wire has it.
  const wrap: unknown = body.account.wrappedRoot;
  if (!Value.Check(WrappedRoot, wrap)) throw new Error('not a wrapped root');
  const secrets = [
    wrap.ct,
    wrap.nonce,
    body.sig,
    body.wrappingKeySig,
    body.wrappedRootSig,
    body.device.sig,
    body.device.cert.sealedName,
    INVITE_CODE,
  ];
  return { request, secrets, kept: [body.account.accountId, body.account.loginName] };
};

describe('redaction at any depth', () => {
  it('a register body nested under body, in an array and in child bindings writes none of its secrets', async () => {
    const { request, secrets, kept } = await registerBody();
    const { logger, lines } = capture();
    logger.info({ body: request }, 'one level down');
    logger.info({ batch: [{ request: { body: request } }] }, 'in an array, three levels down');
    logger.child({ body: request }).info('in the bindings of a child logger');
    expect(lines).toHaveLength(3);
    for (const line of lines) {
      for (const secret of secrets) expect(line).not.toContain(secret);
      // What is not a secret is still there: the line is censored, not dropped.
      for (const value of kept) expect(line).toContain(value);
      expect(line).toContain('[redacted]');
    }
  });

  it("the reviewer's shape: wrappedRoot two levels down, invite, a certificate's sig", () => {
    const { logger, parsed } = capture();
    logger.info({
      body: {
        account: { accountId: 'acc-1', wrappedRoot: { ct: 'CIPHERTEXT', nonce: 'NONCE' } },
        invite: 'INVITECODE',
        device: { cert: { deviceId: 'dev-1', sig: 'SIGNATURE' } },
      },
    });
    expect(parsed()[0]?.['body']).toEqual({
      account: { accountId: 'acc-1', wrappedRoot: '[redacted]' },
      invite: '[redacted]',
      device: { cert: { deviceId: 'dev-1', sig: '[redacted]' } },
    });
  });

  it('matches names in any case, at the top level too, and leaves the caller’s object as it was', () => {
    const { logger, parsed } = capture();
    const headers = { Authorization: 'Bearer SECRET-TOKEN', accept: 'application/json' };
    const given = { headers, token: 'TOP-TOKEN', passphrase: 'PASS', nested: { Token: 'T2' } };
    logger.info(given);
    expect(parsed()[0]).toMatchObject({
      headers: { Authorization: '[redacted]', accept: 'application/json' },
      token: '[redacted]',
      passphrase: '[redacted]',
      nested: { Token: '[redacted]' },
    });
    expect(given.headers.Authorization).toBe('Bearer SECRET-TOKEN');
    expect(given.nested.Token).toBe('T2');
  });

  it("an error's own fields are censored too; an error without secrets is logged as pino logs it", () => {
    const { logger, parsed, lines } = capture();
    const leaky = Object.assign(new Error('refused'), { code: 'E_X', details: { token: 'ERR-TOKEN' } });
    logger.error({ err: leaky }, 'failed');
    logger.error({ err: new Error('plain', { cause: { nonce: 'CAUSE-NONCE' } }) }, 'with a cause');
    logger.error({ err: Object.assign(new Error('clean'), { code: 'E_Y' }) }, 'clean');
    expect(lines.join('')).not.toContain('ERR-TOKEN');
    expect(lines.join('')).not.toContain('CAUSE-NONCE');
    const [first, , third] = parsed();
    expect(first?.['err']).toMatchObject({
      type: 'Error',
      message: 'refused',
      code: 'E_X',
      details: { token: '[redacted]' },
    });
    expect(first?.['err']).toHaveProperty('stack');
    expect(third?.['err']).toMatchObject({ type: 'Error', message: 'clean', code: 'E_Y' });
  });

  it('what lies past the bounds is not written: deeper than the depth, more values than the budget', () => {
    const { logger, lines } = capture();
    let deep: Record<string, unknown> = { key: 'DEEP-SECRET' };
    for (let i = 0; i < REDACT_MAX_DEPTH + 5; i++) deep = { next: deep };
    logger.info({ deep }, 'deep');
    const wide: Record<string, unknown>[] = Array.from({ length: REDACT_MAX_VALUES + 10 }, (_, i) => ({
      n: i,
    }));
    wide.push({ n: -1, key: 'WIDE-SECRET' });
    logger.info({ wide }, 'wide');
    expect(lines[0]).not.toContain('DEEP-SECRET');
    expect(lines[0]).toContain('[redacted: too deep]');
    expect(lines[1]).not.toContain('WIDE-SECRET');
    expect(lines[1]).toContain('[redacted: too large]');
  });

  it('the invite id of a registration is logged; the code never is', () => {
    const { logger, parsed } = capture();
    logger.info({ accountId: 'acc-1', role: 'patient', inviteId: '0123456789ab' }, 'account registered');
    expect(parsed()[0]).toMatchObject({ inviteId: '0123456789ab' });
  });

  it('a link manifest request and a link created by an app from before sealing write no name, label or count', () => {
    const { logger, lines } = capture();
    const manifest = { recipient: 'Dr Quillfeather', passcode: 'PASSCODE-1', embeddedLengthMax: 10 };
    const created = {
      linkId: 'AAAAAAAAAAAAAAAAAAAAAA',
      label: 'For Dr Quillfeather',
      contents: [{ type: 'allergy', count: 7193 }],
      sealed: 'SEALED-DETAILS',
    };
    logger.info({ body: manifest }, 'manifest');
    logger.info({ body: created, access: { sealedRecipient: 'SEALED-NAME' } }, 'create');
    const log = lines.join('\n');
    for (const secret of ['Quillfeather', 'PASSCODE-1', '"count"', 'SEALED-DETAILS', 'SEALED-NAME'])
      expect(log).not.toContain(secret);
    expect(log).toContain('AAAAAAAAAAAAAAAAAAAAAA');
    expect(log).toContain('embeddedLengthMax');
  });
});
