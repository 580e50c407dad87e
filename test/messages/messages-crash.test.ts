/**
 * "Accepted" survives the process: a message accepted while WhatsApp cannot be
 * reached, then the service SIGKILLed, is delivered by the next process — once;
 * and one written to the socket but never acknowledged before the kill is written
 * again under the same id, so the phone shows it once.
 */
import { pino } from 'pino';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { routeConsoleToLogger } from '../../src/logging/console-guard.js';
import { writeBaileysAuthFolder } from '../../fixtures/baileys-folder.js';
import { processesPerFile } from '../support/process-fixture.js';
import { testApiKey } from '../support/service-harness.js';
import type { ServiceProcess } from '../../fixtures/service-process.js';
import { waitUntil } from '../../fixtures/wait.js';

const device = '15550001234:3@s.whatsapp.net';
const f = processesPerFile((dir) => writeBaileysAuthFolder(dir, 'shop', 'main', '15550001234'));
let restoreConsole: () => void;
beforeAll(() => {
  restoreConsole = routeConsoleToLogger(pino({ level: 'silent' }));
});
afterAll(() => restoreConsole());

async function post(node: ServiceProcess, body: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${await node.url}/sessions/shop/main/messages`, {
    method: 'POST',
    headers: { 'x-api-key': testApiKey, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

async function statusOf(node: ServiceProcess, id: string): Promise<string> {
  return String((await node.call(`/sessions/shop/main/messages/${id}`)).body.status);
}

it('accepted while WhatsApp is unreachable, then SIGKILL: the next process delivers it, once', async () => {
  const contact = f.sim.addContact({ phone: '15551111111', receipts: 'delivered' });
  f.sim.rejectUpgrades = true;
  const first = f.spawn({ env: { LEASE_TTL_MS: '1500', LEASE_RENEW_MS: '250' } });
  const accepted = await post(first, { to: '15551111111', text: 'accepted during the outage' });
  expect(accepted.body).toMatchObject({ status: 'queued' });
  expect(accepted.status).toBe(202);
  first.child.kill('SIGKILL');
  await first.exited;

  f.sim.rejectUpgrades = false;
  const second = f.spawn({ env: { LEASE_TTL_MS: '1500', LEASE_RENEW_MS: '250' } });
  await second.url;
  await waitUntil(async () => (await statusOf(second, accepted.body.id as string)) === 'delivered', 20_000);
  expect(contact.inbox.map((m) => [m.id, m.text])).toEqual([[accepted.body.id, 'accepted during the outage']]);
  second.child.kill('SIGTERM');
  expect(await second.exited).toBe(0);
}, 90_000);

it('written but never acknowledged, then SIGKILL: written again under the same id, shown once', async () => {
  const contact = f.sim.addContact({ phone: '15552222222', receipts: 'none' });
  f.sim.messaging.ackMessages = false;
  const first = f.spawn({ env: { LEASE_TTL_MS: '1500', LEASE_RENEW_MS: '250' } });
  await waitUntil(() => f.sim.loggedIn(device).length === 1 && f.sim.messaging.contacts.keysOf(device) !== undefined, 20_000);
  const accepted = await post(first, { to: '15552222222', text: 'said once' });
  await waitUntil(() => contact.inbox.length === 1, 10_000);
  expect(await statusOf(first, accepted.body.id as string)).toBe('queued');
  first.child.kill('SIGKILL');
  await first.exited;

  f.sim.messaging.ackMessages = true;
  const second = f.spawn({ env: { LEASE_TTL_MS: '1500', LEASE_RENEW_MS: '250' } });
  await second.url;
  await waitUntil(async () => (await statusOf(second, accepted.body.id as string)) === 'sent', 20_000);
  expect(contact.inbox.map((m) => m.id)).toEqual([accepted.body.id, accepted.body.id]);
  expect(contact.shownIds()).toEqual([accepted.body.id]);
  expect(contact.inbox.map((m) => m.text)).toEqual(['said once', 'said once']);
  second.child.kill('SIGTERM');
  expect(await second.exited).toBe(0);
}, 90_000);
