/**
 * One client connection to the simulator: the Noise handshake, then WhatsApp's
 * binary-node protocol as far as Baileys needs it to log in, pair and stay
 * up, plus every fault a real server or network inflicts, as methods.
 */
import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import { decodeBinaryNode, encodeBinaryNode, proto, type BinaryNode } from '@whiskeysockets/baileys';
import type { WebSocket } from 'ws';
import type { CertificateVariant, NoiseIdentity } from './certificates.js';
import { encodeFrame, FrameReader, generateKeyPair, NoiseHandshakeState, sharedKey, type NoiseTransport } from './noise-server.js';
import type { MessagingPort, SimulatedMessaging } from './messaging.js';
import { buildPairSuccess, type LinkedDevice, type ScannedQr } from './phone.js';

/** What the client sends before its first frame: "WA", protocol 6, dictionary 3. */
const introHeader = Buffer.from([87, 65, 6, 3]);
export type ConnectionPhase = 'handshake' | 'awaitingScan' | 'loggingIn' | 'loggedIn' | 'closed';

/** How the simulated server behaves toward new connections (all overridable at run time). */
export interface SimulatorBehaviour {
  /** Read the client hello, never answer it (Baileys times out with 408 after connectTimeoutMs). */
  noHandshakeReply: boolean;
  /** Finish the handshake and answer pings, but never send the login result. */
  withholdLogin: boolean;
  /** Wait this long before sending `success`. */
  loginDelayMs: number;
  /** Delay every reply by this long (a slow server). */
  replyDelayMs: number;
  /** QR refs offered to an unpaired client; each lives 60 s, then 20 s (Baileys' qrTimeout). */
  qrRefCount: number;
  /** Log in devices the simulator has never seen (fabricated or imported credentials). */
  acceptUnknownDevices: boolean;
  /** The Noise certificate chain presented: 'valid', or tampered (see certificates.ts). */
  certificate: CertificateVariant;
}

export const defaultBehaviour: SimulatorBehaviour = {
  noHandshakeReply: false,
  withholdLogin: false,
  loginDelayMs: 0,
  replyDelayMs: 0,
  qrRefCount: 6,
  acceptUnknownDevices: true,
  certificate: 'valid',
};

/** What a connection asks of the simulator it belongs to. */
export interface DeviceRegistry {
  loginVerdict(jid: string): 'ok' | 'loggedOut';
  onLoggedIn(connection: SimulatedConnection): void;
  link(device: LinkedDevice): void;
  unlink(jid: string): void;
}

export interface BlackholeOptions {
  /** Also stop reading: the client's close frame goes unanswered (ws then waits 30 s). */
  stopReading?: boolean;
}

export class SimulatedConnection extends EventEmitter implements MessagingPort {
  phase: ConnectionPhase = 'handshake';
  /** The logged-in device, once known. */
  jid: string | null = null;
  readonly counters = { framesIn: 0, framesOut: 0, pingsAnswered: 0, iqsAnswered: 0 };
  /** QR refs offered to this connection. */
  readonly refs: string[] = [];

  private readonly frames = new FrameReader();
  private handshake: NoiseHandshakeState | null = null;
  private serverEphemeral = generateKeyPair();
  private transport: NoiseTransport | null = null;
  private introSeen = false;
  private silent = false;
  private inbound: Promise<void> = Promise.resolve();
  private nextStanzaId = 1;
  private pendingPairing: { stanzaId: string; device: LinkedDevice } | null = null;
  private readonly timers = new Set<NodeJS.Timeout>();

  constructor(
    readonly id: number,
    private readonly ws: WebSocket,
    private readonly rawSocket: Socket,
    private readonly identity: NoiseIdentity,
    private readonly behaviour: SimulatorBehaviour,
    private readonly registry: DeviceRegistry,
    private readonly messaging?: SimulatedMessaging,
  ) {
    super();
    ws.on('message', (data: Buffer) => {
      this.inbound = this.inbound.then(() => this.onData(data)).catch((error: unknown) => this.fail(error));
    });
    ws.on('close', () => this.markClosed());
    ws.on('error', () => this.markClosed());
  }

  get isOpen(): boolean {
    return this.phase !== 'closed';
  }

  // ---- faults and controls ----

  /** A clean WebSocket close (Baileys reports 428). */
  close(): void {
    this.ws.close();
  }

  /** A TCP reset: no close frame at all (Baileys reports 428). */
  reset(): void {
    this.rawSocket.resetAndDestroy();
    this.markClosed();
  }

  /** The link goes dark: nothing more is sent; optionally nothing more is read. */
  blackhole(options: BlackholeOptions = {}): void {
    this.silent = true;
    if (options.stopReading) this.rawSocket.pause();
  }

  /** `<stream:error code="N"/>`: 515 restart required, 503 unavailable, … */
  streamError(code: number): void {
    this.send({ tag: 'stream:error', attrs: { code: String(code) } });
  }

  /** A stream error with a child Baileys does not know (it reports 500). */
  unknownStreamError(): void {
    this.send({ tag: 'stream:error', attrs: {}, content: [{ tag: 'gremlins', attrs: {} }] });
  }

  /** `<failure reason="N"/>`: 401 logged out, 403 forbidden, … */
  failure(reason: number): void {
    this.send({ tag: 'failure', attrs: { reason: String(reason) } });
  }

  /** Another client took this session (Baileys reports 440). */
  conflict(): void {
    this.send({ tag: 'stream:error', attrs: {}, content: [{ tag: 'conflict', attrs: { type: 'replaced' } }] });
  }

  /** Another login of this device took over: the conflict, then the server closes this connection. */
  replace(): void {
    this.conflict();
    this.markClosed();
    this.ws.close();
  }

  /** `<ib><downgrade_webclient/></ib>` (Baileys reports 411). */
  downgrade(): void {
    this.send({ tag: 'ib', attrs: {}, content: [{ tag: 'downgrade_webclient', attrs: {} }] });
  }

  /** The phone scanned this connection's QR: send pair-success for `device`. */
  completePairing(scan: ScannedQr, device: LinkedDevice): void {
    if (this.phase !== 'awaitingScan' || !this.refs.includes(scan.ref)) {
      throw new Error(`connection ${this.id} is not showing QR ref ${scan.ref}`);
    }
    const stanzaId = this.stanzaId();
    this.pendingPairing = { stanzaId, device };
    this.send(buildPairSuccess(scan, device, stanzaId));
  }

  /** Sends `node` to the client (as the server would, after any reply delay). */
  deliver(node: BinaryNode): void {
    this.send(node);
  }

  /** Stop every timer this connection armed (the simulator is closing). */
  dispose(): void {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
  }

  // ---- the protocol ----

  private async onData(data: Buffer): Promise<void> {
    let bytes = data;
    if (!this.introSeen) {
      if (!bytes.subarray(0, introHeader.length).equals(introHeader)) throw new Error('unexpected intro header');
      this.introSeen = true;
      this.handshake = new NoiseHandshakeState(introHeader);
      bytes = bytes.subarray(introHeader.length);
    }
    for (const frame of this.frames.push(bytes)) {
      this.counters.framesIn += 1;
      if (this.transport) {
        const node = await decodeBinaryNode(this.transport.decrypt(frame));
        this.onNode(node);
      } else {
        this.onHandshakeFrame(frame);
      }
    }
  }

  private onHandshakeFrame(frame: Buffer): void {
    const handshake = this.handshake!;
    const message = proto.HandshakeMessage.decode(frame);
    if (message.clientHello?.ephemeral) {
      if (this.behaviour.noHandshakeReply) return;
      const clientEphemeral = message.clientHello.ephemeral;
      handshake.authenticate(clientEphemeral);
      handshake.authenticate(this.serverEphemeral.public);
      handshake.mixIntoKey(sharedKey(this.serverEphemeral.private, clientEphemeral));
      const staticEncrypted = handshake.encrypt(this.identity.staticKeyPair.public);
      handshake.mixIntoKey(sharedKey(this.identity.staticKeyPair.private, clientEphemeral));
      const payloadEncrypted = handshake.encrypt(this.identity.certChains[this.behaviour.certificate]);
      const hello = proto.HandshakeMessage.encode({
        serverHello: { ephemeral: this.serverEphemeral.public, static: staticEncrypted, payload: payloadEncrypted },
      }).finish();
      this.writeFrame(hello);
      return;
    }
    if (message.clientFinish?.static && message.clientFinish.payload) {
      const clientStatic = handshake.decrypt(message.clientFinish.static);
      handshake.mixIntoKey(sharedKey(this.serverEphemeral.private, clientStatic));
      const payload = proto.ClientPayload.decode(handshake.decrypt(message.clientFinish.payload));
      this.transport = handshake.split();
      this.handshake = null;
      this.emit('handshake', this);
      this.onClientPayload(payload);
      return;
    }
    throw new Error('unexpected handshake message');
  }

  private onClientPayload(payload: proto.ClientPayload): void {
    if (payload.devicePairingData) {
      this.phase = 'awaitingScan';
      for (let i = 0; i < this.behaviour.qrRefCount; i++) this.refs.push(`sim-ref-${this.id}-${i + 1}-${Date.now().toString(36)}`);
      this.send({
        tag: 'iq',
        attrs: { id: this.stanzaId(), type: 'set', from: 's.whatsapp.net', xmlns: 'md' },
        content: [{ tag: 'pair-device', attrs: {}, content: this.refs.map((ref) => ({ tag: 'ref', attrs: {}, content: Buffer.from(ref) })) }],
      });
      this.emit('pairing', this);
      return;
    }
    const user = String(payload.username);
    const device = Number(payload.device ?? 0);
    this.jid = device ? `${user}:${device}@s.whatsapp.net` : `${user}@s.whatsapp.net`;
    this.phase = 'loggingIn';
    if (this.registry.loginVerdict(this.jid) === 'loggedOut') {
      this.failure(401);
      return;
    }
    if (this.behaviour.withholdLogin) return;
    this.later(this.behaviour.loginDelayMs, () => {
      if (this.phase !== 'loggingIn') return;
      this.phase = 'loggedIn';
      this.registry.onLoggedIn(this);
      this.send({ tag: 'success', attrs: { t: String(Math.floor(Date.now() / 1000)), props: '1', location: 'sim' } });
      this.emit('login', this);
    });
  }

  private onNode(node: BinaryNode): void {
    if (this.phase === 'loggedIn' && this.messaging?.onNode(this, node)) return;
    if (node.tag !== 'iq') return; // presence, ib, acks: nothing to answer
    const { id, type, xmlns } = node.attrs;
    if (type === 'result' || type === 'error') {
      if (this.pendingPairing && id === this.pendingPairing.stanzaId) this.onPairingSigned();
      return;
    }
    const child = Array.isArray(node.content) ? node.content[0] : undefined;
    const reply: BinaryNode = { tag: 'iq', attrs: { id: id ?? '', type: 'result', from: 's.whatsapp.net' } };
    if (xmlns === 'encrypt' && child?.tag === 'digest') {
      reply.content = [{ tag: 'digest', attrs: {} }];
    } else if (xmlns === 'w:p') {
      this.counters.pingsAnswered += 1;
    } else if (xmlns === 'md' && child?.tag === 'remove-companion-device' && this.jid) {
      this.registry.unlink(this.jid);
      this.emit('logout', this);
    }
    this.counters.iqsAnswered += 1;
    this.send(reply);
    if (xmlns === 'passive' && child?.tag === 'active') {
      // Baileys flushes its event buffer when the offline queue is drained.
      this.send({ tag: 'ib', attrs: {}, content: [{ tag: 'offline', attrs: { count: '0' } }] });
    }
  }

  private onPairingSigned(): void {
    const { device } = this.pendingPairing!;
    this.pendingPairing = null;
    this.registry.link(device);
    this.emit('paired', this, device);
    // As WhatsApp does: the new device must reconnect and log in.
    this.streamError(515);
  }

  // ---- plumbing ----

  private send(node: BinaryNode): void {
    if (this.phase === 'closed' || this.silent || !this.transport) return;
    const transport = this.transport;
    this.later(this.behaviour.replyDelayMs, () => {
      if (this.phase === 'closed' || this.silent) return;
      this.writeFrame(transport.encrypt(encodeBinaryNode(node)));
    });
  }

  private writeFrame(payload: Uint8Array): void {
    if (this.phase === 'closed' || this.silent) return;
    this.counters.framesOut += 1;
    this.ws.send(encodeFrame(payload));
  }

  /** Runs `fn` after `delayMs` unless the connection is disposed first. */
  later(delayMs: number, fn: () => void): void {
    if (delayMs <= 0) return fn();
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      fn();
    }, delayMs);
    this.timers.add(timer);
  }

  private stanzaId(): string {
    return `sim.${this.id}.${this.nextStanzaId++}`;
  }

  private fail(error: unknown): void {
    this.emit('protocolError', error);
    this.ws.terminate();
    this.markClosed();
  }

  private markClosed(): void {
    if (this.phase === 'closed') return;
    this.phase = 'closed';
    this.dispose();
    this.emit('closed', this);
  }
}
