// A patient and a clinician message each other through a real server: threads with unread counts, files
// both ways, delivered and read receipts, live arrival, and a notification without health content.
import { describe, expect, it } from 'vitest';
import type { CareNotification } from '@hale/client';
import { useServer } from '../support/fixture';
import { careDevice, listen, share, until } from './care-devices';

describe('messages between a patient and a clinician', () => {
  const server = useServer({ realClock: true });

  it('a thread with files both ways, receipts on both sides, and live arrival', async () => {
    const t = server.t;
    const patient = await careDevice(t, server.sessions, 'patient');
    const clinician = await careDevice(t, server.sessions, 'provider');
    await share(patient, clinician, ['message']);
    const P = patient.account.accountId;
    const D = clinician.account.accountId;

    const inbox = clinician.hale.care.messages.inbox;
    const stops = [listen(inbox), listen(patient.hale.care.messages.inbox)];
    const seen: CareNotification[] = [];
    const sub = clinician.hale.care.notifications.$.subscribe((n) => seen.push(n));
    await until(inbox.get, () => true, 'the inbox view opened');
    // Let the notification stream take its baseline before anything arrives.
    await new Promise((r) => setTimeout(r, 300));

    const readings = new TextEncoder().encode('date,systolic\n2026-03-01,150\n');
    const sent = await patient.hale.care.messages.send({
      to: D,
      body: 'My blood pressure readings are high this week',
      attachments: [{ bytes: readings, fileName: 'readings.csv', mediaType: 'text/csv' }],
    });
    expect(sent).toMatchObject({ status: 'sent', senderId: P, recipientId: D, patientId: P });

    // Live arrival in the clinician's inbox, unread, across its patients.
    await until(
      inbox.get,
      (threads) => threads.some((x) => x.threadId === sent.threadId),
      'the thread arrives',
    );
    const thread = inbox.get().find((x) => x.threadId === sent.threadId)!;
    expect(thread).toMatchObject({ patientId: P, counterpartId: P, messages: 1, unread: 1 });
    const unread = clinician.hale.care.messages.unread;
    stops.push(listen(unread));
    await until(unread.get, (n) => n === 1, 'one unread message for the clinician');

    // The clinician's device marked it delivered on arrival: the patient sees the receipt.
    const patientThread = patient.hale.care.messages.thread(P, sent.threadId);
    const stopThread = listen(patientThread);
    await until(patientThread.get, (ms) => ms[0]?.record.status === 'delivered', 'delivered receipt');
    expect(patientThread.get()[0]?.record.deliveredAt).toBeDefined();

    // The file opens on the clinician's device, byte for byte.
    const [file] = thread.latest.attachments ?? [];
    expect(file).toBeDefined();
    expect(await clinician.hale.care.messages.attachment(thread.latest, file!)).toEqual(readings);

    // A reply with a file, in the same thread, into the patient's chart.
    const plan = new TextEncoder().encode('%PDF-1.4 reduce salt; recheck in two weeks');
    const reply = await clinician.hale.care.messages.send({
      to: P,
      threadId: sent.threadId,
      body: 'Thank you. Please see the attached advice.',
      attachments: [{ bytes: plan, fileName: 'advice.pdf', mediaType: 'application/pdf' }],
    });
    expect(reply).toMatchObject({ patientId: P, senderId: D, recipientId: P });
    await until(patientThread.get, (ms) => ms.length === 2, 'the reply arrives');
    expect(patient.hale.care.messages.inbox.get()[0]).toMatchObject({
      threadId: sent.threadId,
      unread: 1,
      counterpartId: D,
    });
    const received = patientThread.get()[1]!.record;
    expect(await patient.hale.care.messages.attachment(received, received.attachments![0]!)).toEqual(plan);

    // Read: the patient reads the thread, the clinician sees the read receipt.
    expect(await patient.hale.care.messages.markRead(P, sent.threadId)).toBe(1);
    expect(await clinician.hale.care.messages.markRead(P, sent.threadId)).toBe(1);
    const clinicianThread = clinician.hale.care.messages.thread(P, sent.threadId);
    stops.push(listen(clinicianThread));
    await until(
      clinicianThread.get,
      (ms) => ms.find((m) => m.record.id === reply.id)?.record.status === 'read',
      "the clinician sees the patient's read receipt",
    );
    await until(
      patientThread.get,
      (ms) => ms[0]?.record.status === 'read',
      "the patient sees the clinician's",
    );
    await until(
      inbox.get,
      (threads) => threads.find((x) => x.threadId === sent.threadId)?.unread === 0,
      'unread 0',
    );

    // The clinician was notified of the new message in words a locked screen may show.
    expect(seen.filter((n) => n.type === 'message')).toEqual([
      expect.objectContaining({ title: 'New message', target: { recordId: sent.id, patientId: P } }),
    ]);
    expect(JSON.stringify(seen)).not.toMatch(/blood pressure|readings|salt/i);
    sub.unsubscribe();
    stopThread();
    for (const stop of stops) stop();
  });

  it('refuses an empty message, and a clinician without write access cannot write into the chart', async () => {
    const t = server.t;
    const patient = await careDevice(t, server.sessions, 'patient');
    const clinician = await careDevice(t, server.sessions, 'provider');
    await share(patient, clinician, ['message'], 'read');
    await expect(
      patient.hale.care.messages.send({ to: clinician.account.accountId, body: '  ' }),
    ).rejects.toMatchObject({
      code: 'INVALID_INPUT',
      field: 'body',
    });
    await patient.hale.care.messages.send({ to: clinician.account.accountId, body: 'hello' });
    await expect(
      clinician.hale.care.messages.send({ to: patient.account.accountId, body: 'a reply I may not write' }),
    ).rejects.toMatchObject({ code: 'NOT_WRITABLE' });
  });
});
