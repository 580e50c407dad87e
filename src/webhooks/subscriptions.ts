/**
 * Webhook subscriptions, one small file each in `sessions/.webhooks/<id>.json`
 * (replaced atomically, mode 0600: it holds the secret). A change writes that
 * one file: creating, deleting, pausing or resuming costs a few hundred bytes
 * whatever the number of subscriptions. A failed or refused delivery writes
 * nothing: `lastError` and `lastDeliveredAt` are informative, kept in memory
 * and stored with the subscription's next change (a pause stores the error
 * that caused it). The cursors are the outbox's.
 *
 * The one from the environment is kept there too, under an id derived from its
 * URL, so its pause survives restarts; its URL, secret and filter come from the
 * environment on every start. A `.webhooks.json` from an earlier version (all
 * subscriptions in one file) is split into the folder on load.
 *
 * At most `maxSubscriptions` exist; `add` beyond is refused (the routes answer
 * 409 first). Subscriptions already stored are all kept, even above a lowered limit.
 *
 * A secret never leaves this module except to sign: `publicView` is what the API
 * shows, with the URL's credentials and query values masked.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, open, readdir, rm, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../logging/logger.js';
import { readFileIfExists, removeFile, serialised, syncFolder, writeFileAtomic } from '../store/files/atomic-file.js';
import type { EventType } from '../outbox/fleet-event.js';
import { defaultMaxSubscriptions, type EnvSubscription } from './webhook-settings.js';
import { redactMessage, redactUrl } from './webhook-url.js';

/** The single file of earlier versions, migrated on load. */
export const legacySubscriptionsFileName = '.webhooks.json';
export const subscriptionsFolderName = '.webhooks';

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
  const lastError = rest.lastError && { ...rest.lastError, message: redactMessage(rest.lastError.message, rest.url) };
  return { ...rest, url: redactUrl(rest.url), lastError };
}

/** Where the subscriptions are stored; the files one by default (tests count what it writes). */
export interface SubscriptionFiles {
  /** Every stored subscription's text, by id; a legacy single file's content under `legacy`. */
  readAll(): Promise<{ entries: Array<{ id: string; text: string }>; legacy: string | null }>;
  write(id: string, text: string): Promise<void>;
  /**
   * Stores a new subscription. Absent: `write`. A shared store (PostgreSQL) creates the row
   * here and only updates an existing one in `write`, so a node that still has a subscription
   * another node deleted cannot bring it back by pausing it.
   */
  create?(id: string, text: string): Promise<void>;
  remove(id: string): Promise<void>;
  /** Called once the legacy file's subscriptions are each written on their own. */
  dropLegacy(): Promise<void>;
}

export interface SubscriptionStoreOptions {
  maxSubscriptions?: number;
  logger?: Logger;
  files?: SubscriptionFiles;
  /**
   * The store is the cluster's, shared by every node (PostgreSQL): every stored subscription
   * is this node's too, env ones included, and one this node's environment does not configure
   * is kept (another node's WEBHOOK_URL), not forgotten. Default false: a folder, one process.
   */
  shared?: boolean;
}

/** What reload() found changed by other nodes. */
export interface SubscriptionChanges {
  added: Subscription[];
  removed: string[];
  /** Paused, resumed, or reconfigured elsewhere. */
  changed: string[];
}

export class SubscriptionStore {
  readonly maxSubscriptions: number;
  private readonly byId = new Map<string, Subscription>();
  private readonly files: SubscriptionFiles;
  private readonly logger: Logger | undefined;
  private readonly shared: boolean;
  /** Bumped by every local add, remove and update: a reload that read before one of them is discarded. */
  private version = 0;

  constructor(sessionsDir: string, options: SubscriptionStoreOptions = {}) {
    this.maxSubscriptions = options.maxSubscriptions ?? defaultMaxSubscriptions;
    this.files = options.files ?? folderFiles(sessionsDir);
    this.logger = options.logger;
    this.shared = options.shared ?? false;
  }

  async load(fromEnv: EnvSubscription | null): Promise<void> {
    const { entries, legacy } = await this.files.readAll();
    const stored = new Map<string, Subscription>();
    if (legacy !== null) for (const subscription of parseList(legacy)) stored.set(subscription.id, subscription);
    for (const { id, text } of entries) {
      const subscription = parseOne(text, id);
      // One unreadable file costs that subscription (named in the log), not the others or the start.
      if (subscription) stored.set(id, subscription);
      else this.logger?.error({ subscription: id }, 'Webhook subscription file unreadable; that subscription is not delivered to until it is fixed or deleted');
    }
    for (const subscription of stored.values()) if (subscription.source === 'api' || this.shared) this.byId.set(subscription.id, subscription);
    let envChanged: Subscription | null = null;
    if (fromEnv) {
      const id = `env-${createHash('sha256').update(fromEnv.url).digest('hex').slice(0, 12)}`;
      const earlier = stored.get(id);
      const subscription: Subscription = {
        id,
        ...fromEnv,
        source: 'env',
        createdAt: earlier?.createdAt ?? new Date().toISOString(),
        paused: earlier?.paused ?? null,
        lastError: earlier?.lastError ?? null,
        lastDeliveredAt: earlier?.lastDeliveredAt ?? null,
      };
      this.byId.set(id, subscription);
      if (!earlier || JSON.stringify(earlier) !== JSON.stringify(subscription)) envChanged = subscription;
    }
    // An env subscription no longer configured is forgotten, as before (shared: it may be another node's).
    if (!this.shared) for (const { id } of entries) if (stored.get(id)?.source === 'env' && !this.byId.has(id)) await this.files.remove(id);
    if (legacy !== null) {
      for (const subscription of this.byId.values()) await this.save(subscription);
      await this.files.dropLegacy();
    } else if (envChanged) {
      // Nodes starting together with one WEBHOOK_URL create its row once; each then writes its configuration.
      if (!stored.has(envChanged.id) && this.files.create) await this.files.create(envChanged.id, JSON.stringify(envChanged));
      await this.save(envChanged);
    }
  }

  /**
   * Reads the stored subscriptions again and takes what other writers changed (a shared
   * store: other nodes add, delete, pause and resume). A subscription known here keeps its
   * in-memory notes (lastError, lastDeliveredAt) unless its stored pause changed.
   */
  async reload(): Promise<SubscriptionChanges> {
    const version = this.version;
    const { entries } = await this.files.readAll();
    const changes: SubscriptionChanges = { added: [], removed: [], changed: [] };
    // A local add or remove landed while reading: what was read may be older than it; the next reload takes it.
    if (version !== this.version) return changes;
    const seen = new Set<string>();
    for (const { id, text } of entries) {
      const stored = parseOne(text, id);
      if (!stored) continue;
      seen.add(id);
      const known = this.byId.get(id);
      if (!known) {
        this.byId.set(id, stored);
        changes.added.push(stored);
        continue;
      }
      const pauseChanged = JSON.stringify(known.paused) !== JSON.stringify(stored.paused);
      const configChanged = known.url !== stored.url || known.secret !== stored.secret || JSON.stringify(known.events) !== JSON.stringify(stored.events) || known.includeQr !== stored.includeQr;
      if (!pauseChanged && !configChanged) continue;
      Object.assign(known, { url: stored.url, secret: stored.secret, events: stored.events, includeQr: stored.includeQr });
      if (pauseChanged) Object.assign(known, { paused: stored.paused, lastError: stored.lastError });
      changes.changed.push(id);
    }
    for (const id of [...this.byId.keys()]) {
      if (seen.has(id)) continue;
      this.byId.delete(id);
      changes.removed.push(id);
    }
    return changes;
  }

  list(): Subscription[] {
    return [...this.byId.values()];
  }

  get(id: string): Subscription | undefined {
    return this.byId.get(id);
  }

  /** No room for one more. */
  full(): boolean {
    return this.byId.size >= this.maxSubscriptions;
  }

  async add(fields: Pick<Subscription, 'url' | 'secret' | 'events' | 'includeQr'>): Promise<Subscription> {
    // The routes answer 409 before getting here; this keeps the limit whoever calls.
    if (this.full()) throw new RangeError(`at most ${this.maxSubscriptions} webhook subscriptions`);
    const subscription: Subscription = {
      id: `wh_${randomBytes(9).toString('hex')}`,
      ...fields,
      source: 'api',
      createdAt: new Date().toISOString(),
      paused: null,
      lastError: null,
      lastDeliveredAt: null,
    };
    this.version += 1;
    this.byId.set(subscription.id, subscription);
    const text = JSON.stringify(subscription);
    try {
      await (this.files.create ? this.files.create(subscription.id, text) : this.files.write(subscription.id, text));
    } catch (error) {
      // Not stored, not created: it would vanish at the next restart.
      this.byId.delete(subscription.id);
      throw error;
    } finally {
      this.version += 1;
    }
    return subscription;
  }

  async remove(id: string): Promise<boolean> {
    if (!this.byId.delete(id)) return false;
    this.version += 1;
    try {
      await this.files.remove(id);
    } finally {
      this.version += 1;
    }
    return true;
  }

  /** Notes a success in memory only: a write per delivery would halve throughput, and the time is informative, not state. */
  touch(id: string, at: string): void {
    const subscription = this.byId.get(id);
    if (subscription) subscription.lastDeliveredAt = at;
  }

  /**
   * Notes a failure in memory only: a receiver that is down must not cost a write per attempt.
   * A paused subscription keeps the error its pause gave: an attempt already in flight when it
   * was paused (for backlog, say) would otherwise hide why it stopped behind one more refusal.
   */
  noteError(id: string, lastError: Subscription['lastError']): void {
    const subscription = this.byId.get(id);
    if (subscription && !subscription.paused) subscription.lastError = lastError;
  }

  /** Changes a subscription's status fields and stores it (its file alone). */
  async update(id: string, change: Partial<Pick<Subscription, 'paused' | 'lastError'>>): Promise<void> {
    const subscription = this.byId.get(id);
    if (!subscription) return;
    Object.assign(subscription, change);
    // A reload that read before this write lands would take the old pause back (shared store).
    this.version += 1;
    try {
      await this.save(subscription);
    } finally {
      this.version += 1;
    }
  }

  private save(subscription: Subscription): Promise<void> {
    return this.files.write(subscription.id, JSON.stringify(subscription));
  }
}

function parseOne(text: string, id: string): Subscription | null {
  try {
    const value = JSON.parse(text) as Subscription;
    return value && typeof value === 'object' && value.id === id && typeof value.url === 'string' && typeof value.secret === 'string' ? value : null;
  } catch {
    return null;
  }
}

function parseList(text: string): Subscription[] {
  try {
    const value = JSON.parse(text) as unknown;
    return Array.isArray(value) ? (value as Subscription[]).filter((s) => s && typeof s.id === 'string' && /^[A-Za-z0-9_-]{1,64}$/.test(s.id)) : [];
  } catch {
    return [];
  }
}

/** One file per subscription in `sessions/.webhooks/`; the folder appears with the first subscription. */
export function folderFiles(sessionsDir: string): SubscriptionFiles {
  const folder = join(sessionsDir, subscriptionsFolderName);
  const legacyPath = join(sessionsDir, legacySubscriptionsFileName);
  const pathOf = (id: string) => join(folder, `${id}.json`);
  let made = false;
  const folderSync = new FolderSync(folder);
  return {
    async readAll() {
      const legacy = await readFileIfExists(legacyPath);
      const names = await readdir(folder).catch((error: NodeJS.ErrnoException) => (error.code === 'ENOENT' ? [] : Promise.reject(error)));
      const entries: Array<{ id: string; text: string }> = [];
      for (const name of names) {
        // Temp files of a write cut short by a crash: the target kept its old content.
        if (name.startsWith('.') && name.endsWith('.tmp')) await rm(join(folder, name), { force: true });
        else if (name.endsWith('.json')) {
          const text = await readFileIfExists(join(folder, name));
          if (text !== null) entries.push({ id: name.slice(0, -'.json'.length), text });
        }
      }
      return { entries, legacy };
    },
    async write(id, text) {
      if (!made) {
        await mkdir(folder, { recursive: true, mode: 0o700 });
        made = true;
      }
      await writeFileAtomic(pathOf(id), text);
    },
    async remove(id) {
      await serialised(pathOf(id), () => unlink(pathOf(id)).catch((error: NodeJS.ErrnoException) => (error.code === 'ENOENT' ? undefined : Promise.reject(error))));
      await folderSync.sync();
    },
    async dropLegacy() {
      await removeFile(legacyPath);
      await syncFolder(sessionsDir);
    },
  };
}

/**
 * fsyncs a folder through a handle kept open while removals come in a row (a
 * script deleting hundreds), closed after a second without one: one system
 * call per removal instead of open, fsync and close.
 */
class FolderSync {
  private handle: Promise<FileHandle> | null = null;
  private idle: NodeJS.Timeout | null = null;

  constructor(private readonly folder: string) {}

  async sync(): Promise<void> {
    if (this.idle) clearTimeout(this.idle);
    this.handle ??= open(this.folder, 'r');
    const handle = this.handle;
    try {
      await (await handle).sync();
    } catch (error) {
      if (this.handle === handle) this.handle = null;
      throw error;
    } finally {
      if (this.idle) clearTimeout(this.idle);
      this.idle = setTimeout(() => this.close(), folderHandleIdleMs);
      this.idle.unref();
    }
  }

  private close(): void {
    const handle = this.handle;
    this.handle = null;
    void handle?.then((open) => open.close()).catch(() => undefined);
  }
}

const folderHandleIdleMs = 1_000;
