/**
 * Webhook subscriptions, kept in `sessions/.webhooks.json` (replaced
 * atomically, mode 0600: it holds the secrets). The one from the environment
 * is kept there too, under an id derived from its URL, so its cursor and its
 * pause survive restarts; its URL, secret and filter come from the environment
 * on every start.
 *
 * A secret never leaves this module except to sign: `publicView` is what the API shows.
 */
import { createHash, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { readFileIfExists, writeFileAtomic } from '../store/files/atomic-file.js';
import type { EventType } from '../events/fleet-event.js';
import type { EnvSubscription } from './webhook-settings.js';

export const subscriptionsFileName = '.webhooks.json';

export interface Subscription {
  id: string;
  url: string;
  secret: string;
  /** null: every event type. */
  events: EventType[] | null;
  includeQr: boolean;
  source: 'env' | 'api';
  createdAt: string;
  /** Set when delivery stopped for this subscription (410, or an event failing for the whole retry window). */
  paused: { at: string; reason: string } | null;
  lastError: { at: string; eventId: string; message: string; status: number | null } | null;
  /** Last successful delivery. */
  lastDeliveredAt: string | null;
}

export type PublicSubscription = Omit<Subscription, 'secret'>;

export function publicView(subscription: Subscription): PublicSubscription {
  const { secret: _secret, ...rest } = subscription;
  return rest;
}

export class SubscriptionStore {
  private readonly path: string;
  private readonly byId = new Map<string, Subscription>();

  constructor(sessionsDir: string) {
    this.path = join(sessionsDir, subscriptionsFileName);
  }

  async load(fromEnv: EnvSubscription | null): Promise<void> {
    const text = await readFileIfExists(this.path);
    const stored = text ? (JSON.parse(text) as Subscription[]) : [];
    for (const subscription of stored) if (subscription.source === 'api') this.byId.set(subscription.id, subscription);
    if (fromEnv) {
      const id = `env-${createHash('sha256').update(fromEnv.url).digest('hex').slice(0, 12)}`;
      const earlier = stored.find((s) => s.id === id);
      this.byId.set(id, {
        id,
        ...fromEnv,
        source: 'env',
        createdAt: earlier?.createdAt ?? new Date().toISOString(),
        paused: earlier?.paused ?? null,
        lastError: earlier?.lastError ?? null,
        lastDeliveredAt: earlier?.lastDeliveredAt ?? null,
      });
    }
    // Nothing to keep, nothing kept: no file appears for a service without webhooks.
    if (text !== null || fromEnv) await this.save();
  }

  list(): Subscription[] {
    return [...this.byId.values()];
  }

  get(id: string): Subscription | undefined {
    return this.byId.get(id);
  }

  async add(fields: Pick<Subscription, 'url' | 'secret' | 'events' | 'includeQr'>): Promise<Subscription> {
    const subscription: Subscription = {
      id: `wh_${randomBytes(9).toString('hex')}`,
      ...fields,
      source: 'api',
      createdAt: new Date().toISOString(),
      paused: null,
      lastError: null,
      lastDeliveredAt: null,
    };
    this.byId.set(subscription.id, subscription);
    await this.save();
    return subscription;
  }

  async remove(id: string): Promise<boolean> {
    if (!this.byId.delete(id)) return false;
    await this.save();
    return true;
  }

  /** Notes a success in memory only: one more fsync per delivery would halve throughput, and the time is informative, not state. */
  touch(id: string, at: string): void {
    const subscription = this.byId.get(id);
    if (subscription) subscription.lastDeliveredAt = at;
  }

  /** Changes a subscription's status fields and stores them. */
  async update(id: string, change: Partial<Pick<Subscription, 'paused' | 'lastError'>>): Promise<void> {
    const subscription = this.byId.get(id);
    if (!subscription) return;
    Object.assign(subscription, change);
    await this.save();
  }

  private save(): Promise<void> {
    return writeFileAtomic(this.path, JSON.stringify(this.list(), null, 2));
  }
}
