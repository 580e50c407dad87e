/**
 * A WhatsApp Web server for tests, demos and benchmarks, on loopback only.
 *
 * Real Baileys connects to it (`waWebSocketUrl: sim.url`), completes its Noise
 * handshake, shows QR codes, pairs with a simulated phone, logs in, answers
 * pings — and suffers whatever fault a test asks for.
 */
import { EventEmitter, once } from 'node:events';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { WebSocketServer } from 'ws';
import { createNoiseIdentity, type NoiseIdentity } from './certificates.js';
import { SimulatedContacts, type ContactOptions, type ContactPhone } from './contacts.js';
import { SimulatedMessaging, type SendTextOptions } from './messaging.js';
import { parseQr, type LinkedDevice } from './phone.js';
import {
  defaultBehaviour,
  SimulatedConnection,
  type BlackholeOptions,
  type DeviceRegistry,
  type SimulatorBehaviour,
} from './simulated-connection.js';

export interface WaSimulatorOptions {
  /** Loopback address to bind; anything else is refused. Default 127.0.0.1. */
  host?: string;
  /** Port; default 0 (any free one). */
  port?: number;
  behaviour?: Partial<SimulatorBehaviour>;
  /** Sign the certificate chain under a root made from this seed instead of the shared simulator root. */
  rootSeed?: string;
}

export interface SimulatorCounters {
  connectionsAccepted: number;
  upgradesRejected: number;
  handshakesCompleted: number;
  logins: number;
  pairings: number;
  /** Most connections logged in as the same device at the same moment. */
  maxConcurrentLoginsPerDevice: number;
  /** Logins that replaced a live login of the same device (the older one got a conflict and was closed). */
  replacements: number;
}

const loopbackHosts = new Set(['127.0.0.1', '::1', 'localhost']);

export class WaSimulator extends EventEmitter {
  readonly behaviour: SimulatorBehaviour;
  readonly counters: SimulatorCounters = {
    connectionsAccepted: 0,
    upgradesRejected: 0,
    handshakesCompleted: 0,
    logins: 0,
    pairings: 0,
    maxConcurrentLoginsPerDevice: 0,
    replacements: 0,
  };
  /** Replacements per device jid (see counters.replacements). */
  readonly replacementsByDevice = new Map<string, number>();
  /** Every QR ref handed out so far (tests check that none reaches a log line). */
  readonly issuedRefs: string[] = [];
  /** Answer the WebSocket upgrade with HTTP 403 (Baileys then hangs, reporting nothing). */
  rejectUpgrades = false;
  /** The contacts' phones and what they exchange with linked devices. */
  readonly messaging = new SimulatedMessaging(new SimulatedContacts());

  private readonly identity: NoiseIdentity;
  private readonly http: Server;
  private readonly wss = new WebSocketServer({ noServer: true });
  private readonly connections = new Map<number, SimulatedConnection>();
  private readonly devices = new Map<string, { linked: boolean }>();
  private readonly rawSockets = new Set<Socket>();
  private nextConnectionId = 1;
  private nextPhone = 15550000001;

  constructor(private readonly options: WaSimulatorOptions = {}) {
    super();
    const host = options.host ?? '127.0.0.1';
    if (!loopbackHosts.has(host)) throw new Error(`the simulator only listens on loopback, not ${host}`);
    this.behaviour = { ...defaultBehaviour, ...options.behaviour };
    this.identity = createNoiseIdentity(options.rootSeed);
    this.http = createServer((_req, res) => {
      res.writeHead(426, { 'content-type': 'text/plain' }).end('WebSocket only\n');
    });
    this.http.on('connection', (socket) => {
      this.rawSockets.add(socket);
      socket.once('close', () => this.rawSockets.delete(socket));
    });
    this.http.on('upgrade', (req, socket, head) => this.onUpgrade(req, socket as Socket, head));
  }

  async start(): Promise<this> {
    this.http.listen(this.options.port ?? 0, this.options.host ?? '127.0.0.1');
    await once(this.http, 'listening');
    return this;
  }

  /** The URL to give Baileys as `waWebSocketUrl`. */
  get url(): string {
    const address = this.http.address() as AddressInfo;
    const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    return `ws://${host}:${address.port}/ws/chat`;
  }

  /** The root public key its certificate chain is signed by: what a client must trust (WA_ROOT_PUBLIC_KEY). */
  get rootPublicKey(): Uint8Array {
    return this.identity.rootPublicKey;
  }

  /** rootPublicKey as hex, the form WA_ROOT_PUBLIC_KEY takes. */
  get rootPublicKeyHex(): string {
    return Buffer.from(this.identity.rootPublicKey).toString('hex');
  }

  /** The encoded Noise certificate chain new connections are shown (behaviour.certificate picks it). */
  get presentedCertChain(): Uint8Array {
    return this.identity.certChains[this.behaviour.certificate];
  }

  /** Connections still open, oldest first. */
  get openConnections(): SimulatedConnection[] {
    return [...this.connections.values()].filter((c) => c.isOpen);
  }

  /** Open connections logged in as `jid` (or as any device, without it). */
  loggedIn(jid?: string): SimulatedConnection[] {
    return this.openConnections.filter((c) => c.phase === 'loggedIn' && (jid === undefined || c.jid === jid));
  }

  /** Apply a fault to every open connection (or to those `filter` picks). */
  forEach(action: (connection: SimulatedConnection) => void, filter: (c: SimulatedConnection) => boolean = () => true): number {
    const targets = this.openConnections.filter(filter);
    for (const connection of targets) action(connection);
    return targets.length;
  }

  closeAll(): number {
    return this.forEach((c) => c.close());
  }

  /** Whether a device may log in: linked, or unknown while unknown devices are accepted. */
  isLinked(jid: string): boolean {
    return this.devices.get(jid)?.linked ?? false;
  }

  /** The phone unlinks a device: its open connections get 401, later logins too. */
  unlinkDevice(jid: string): void {
    this.devices.set(jid, { linked: false });
    for (const connection of this.loggedIn(jid)) connection.failure(401);
  }

  /**
   * A phone scans `qr` (the text Baileys emitted): the connection showing that
   * ref gets pair-success, then the 515 restart. Returns the new device.
   */
  scanQr(qr: string, phone = String(this.nextPhone++)): LinkedDevice {
    const scan = parseQr(qr);
    const connection = this.openConnections.find((c) => c.phase === 'awaitingScan' && c.refs.includes(scan.ref));
    if (!connection) throw new Error('no open connection is showing that QR');
    const device: LinkedDevice = { jid: `${phone}:${connection.id}@s.whatsapp.net`, lid: `${phone}0:${connection.id}@lid` };
    connection.completePairing(scan, device);
    return device;
  }

  /** Puts a contact on the simulated WhatsApp (any number never added is not on WhatsApp). */
  addContact(options: ContactOptions): ContactPhone {
    return this.messaging.contacts.add(options);
  }

  /** The contact's phone for a phone number or jid, if it is on the simulated WhatsApp. */
  contact(jidOrPhone: string): ContactPhone | undefined {
    return this.messaging.contacts.find(jidOrPhone);
  }

  /** A contact sends a text to the logged-in device `device` (its jid); resolves with the message id. */
  sendText(device: string, options: SendTextOptions): Promise<string> {
    return this.messaging.sendText(this.loggedInDevice(device), options);
  }

  /** A contact's phone asks `device` to send message `id` again. */
  retryReceipt(device: string, options: { from: string; id: string; count?: number }): void {
    this.messaging.retryReceipt(this.loggedInDevice(device), options);
  }

  async stop(): Promise<void> {
    for (const connection of this.connections.values()) connection.dispose();
    for (const client of this.wss.clients) client.terminate();
    for (const socket of this.rawSockets) socket.destroy();
    this.wss.close();
    await new Promise<void>((resolve) => this.http.close(() => resolve()));
  }

  private loggedInDevice(device: string): SimulatedConnection {
    const connection = this.loggedIn(device).at(-1);
    if (!connection) throw new Error(`${device} is not logged in`);
    return connection;
  }

  private onUpgrade(req: IncomingMessage, socket: Socket, head: Buffer): void {
    if (this.rejectUpgrades) {
      this.counters.upgradesRejected += 1;
      // Node's HTTP server drops its own error listener once it hands a socket to 'upgrade'. A client
      // that dies right after the refusal (a SIGKILLed service) resets the half-closed socket, and an
      // unheard 'error' would take the whole simulator — and the test process holding it — down.
      socket.on('error', () => socket.destroy());
      socket.end('HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
      return;
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      const id = this.nextConnectionId++;
      const connection = new SimulatedConnection(id, ws, socket, this.identity, this.behaviour, this.registry, this.messaging);
      this.connections.set(id, connection);
      this.counters.connectionsAccepted += 1;
      connection.on('closed', () => {
        this.connections.delete(id);
        this.emit('closed', connection);
      });
      connection.on('handshake', () => {
        this.counters.handshakesCompleted += 1;
      });
      connection.on('pairing', () => {
        this.issuedRefs.push(...connection.refs);
        this.emit('pairing', connection);
      });
      connection.on('login', () => this.emit('login', connection));
      connection.on('paired', (_c: SimulatedConnection, device: LinkedDevice) => this.emit('paired', connection, device));
      connection.on('logout', () => this.emit('logout', connection));
      connection.on('protocolError', (error: unknown) => this.emit('protocolError', connection, error));
      this.emit('connection', connection);
    });
  }

  private readonly registry: DeviceRegistry = {
    loginVerdict: (jid) => {
      const known = this.devices.get(jid);
      if (known) return known.linked ? 'ok' : 'loggedOut';
      if (!this.behaviour.acceptUnknownDevices) return 'loggedOut';
      this.devices.set(jid, { linked: true });
      return 'ok';
    },
    onLoggedIn: (connection) => {
      this.counters.logins += 1;
      const jid = connection.jid!;
      const concurrent = this.loggedIn(jid).length;
      this.counters.maxConcurrentLoginsPerDevice = Math.max(this.counters.maxConcurrentLoginsPerDevice, concurrent);
      // As WhatsApp does: a second login of the same device replaces the first (440), which is then closed.
      for (const older of this.loggedIn(jid)) {
        if (older === connection) continue;
        older.replace();
        this.counters.replacements += 1;
        this.replacementsByDevice.set(jid, (this.replacementsByDevice.get(jid) ?? 0) + 1);
      }
    },
    link: (device) => {
      this.counters.pairings += 1;
      this.devices.set(device.jid, { linked: true });
    },
    unlink: (jid) => {
      this.devices.set(jid, { linked: false });
    },
  };
}

export type { SimulatedConnection, SimulatorBehaviour, BlackholeOptions, ContactOptions, ContactPhone, SendTextOptions };
