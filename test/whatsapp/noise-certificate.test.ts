/**
 * The server's Noise certificate chain is enforced (Baileys 7.0.0-rc14 computes
 * the checks and ignores them): through real Baileys handshakes against the
 * simulator, a chain that does not lead to the trusted root, an expired one, or a
 * genuine one replayed with another static key is refused — as an outage, never a
 * logout, never spending the give-up budget — and the simulator's own chain is
 * accepted once its root is the configured one.
 */
import { Curve, proto } from '@whiskeysockets/baileys';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/app/config.js';
import { createNoiseIdentity, simulatorRootPublicKeyHex, type CertificateVariant } from '../../src/sim/certificates.js';
import { WaSimulator } from '../../src/sim/wa-simulator.js';
import { xeddsaVerify } from '../../src/whatsapp/certificate-verify-cache.js';
import {
  certificateRefusalCounts,
  checkCertificateChain,
  noiseCertificateCheckInstalled,
  parseRootPublicKey,
  whatsAppRootPublicKey,
  whatsAppRootPublicKeyHex,
  type CertificateRefusal,
} from '../../src/whatsapp/noise-certificate.js';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { writeBaileysAuthFolder } from '../../fixtures/baileys-folder.js';
import { startLiveSession } from '../support/live-session.js';
import { removeDir, startTestService, tempSessionsDir } from '../support/service-harness.js';
import { memoryAuth, registeredCreds } from '../../fixtures/memory-auth.js';
import { waitUntil } from '../../fixtures/wait.js';

let sim: WaSimulator;
let sessions: ReturnType<typeof startLiveSession>[] = [];
beforeEach(async () => {
  sim = await new WaSimulator().start();
  sessions = [];
});
afterEach(async () => {
  for (const s of sessions) s.actor.stop();
  await sim.stop();
});

let phone = 15558100000;
function live(options: Omit<Parameters<typeof startLiveSession>[0], 'sim' | 'auth'> = {}) {
  const auth = memoryAuth(registeredCreds(String(phone++), 1));
  const session = startLiveSession({ sim, auth, ...options });
  sessions.push(session);
  return { ...session, auth };
}

/** Waits until the session has failed `count` handshakes in a row, each refused for `reason`. */
async function refusedTimes(s: ReturnType<typeof live>, reason: CertificateRefusal, count: number): Promise<void> {
  await waitUntil(() => s.logs.filter((r) => r.msg.includes(`server certificate refused: ${reason}`)).length >= count, 10_000);
}

describe('through real handshakes', () => {
  it("is in place in Baileys' Curve", () => {
    expect(noiseCertificateCheckInstalled()).toBe(true);
  });

  it("the simulator's chain is accepted when its root is the configured one", async () => {
    const s = live();
    await s.reach('open');
    expect(sim.counters.logins).toBe(1);
  });

  it("the simulator's chain is refused under WhatsApp's root (the default): an outage, not a logout, budget untouched", async () => {
    const before = certificateRefusalCounts().get('intermediateSignature') ?? 0;
    const s = live({ socket: { waRootPublicKey: whatsAppRootPublicKey }, policy: { maxReconnectAttempts: 1, reconnectDelaysMs: [50] } });
    await refusedTimes(s, 'intermediateSignature', 3);
    expect(sim.counters.logins).toBe(0);
    expect(s.states).not.toContain('open');
    expect(s.states).not.toContain('terminated'); // a budget of one, three refusals: nothing spent
    const backingOff = await s.reachAfter('backingOff', 'backingOff');
    expect(backingOff.context).toMatchObject({ spentAttempts: 0, lastFailureReachedServer: false });
    expect(backingOff.context.lastDisconnect).toEqual({ message: 'server certificate refused: intermediateSignature' });
    expect(s.credentialWipes).toBe(0);
    expect(s.auth.state.creds.me).toBeTruthy();
    expect((certificateRefusalCounts().get('intermediateSignature') ?? 0) - before).toBeGreaterThanOrEqual(3);
  });

  const refusals: Array<[CertificateVariant, CertificateRefusal]> = [
    ['wrongRoot', 'intermediateSignature'],
    ['badSignature', 'leafSignature'],
    ['expired', 'expired'],
    ['otherStaticKey', 'staticKeyMismatch'],
  ];
  for (const [variant, reason] of refusals) {
    it(`a chain with ${variant} is refused (${reason}) on every attempt, spending nothing; the session opens once the chain is right`, async () => {
      sim.behaviour.certificate = variant;
      const s = live({ policy: { maxReconnectAttempts: 1, reconnectDelaysMs: [50] } });
      await refusedTimes(s, reason, 2);
      expect(sim.counters.logins).toBe(0);
      expect(s.context.spentAttempts).toBe(0);
      expect(s.states).not.toContain('terminated');
      sim.behaviour.certificate = 'valid';
      await s.reach('open', 5_000);
      expect(s.credentialWipes).toBe(0);
    });
  }

  it('a simulator under another root is refused by a client that trusts the shared simulator root', async () => {
    const impostor = await new WaSimulator({ rootSeed: 'someone else' }).start();
    try {
      const s = startLiveSession({ sim: impostor, auth: memoryAuth(registeredCreds(String(phone++), 1)), socket: { waRootPublicKey: sim.rootPublicKey } });
      sessions.push(s);
      await waitUntil(() => s.logs.some((r) => r.msg.includes('server certificate refused: intermediateSignature')), 10_000);
      expect(impostor.counters.logins).toBe(0);
    } finally {
      await impostor.stop();
    }
  });
});

it('in the service: a refused chain is logged (which check, no key material) and counted in /metrics; the session keeps running and its credentials', async () => {
  sim.behaviour.certificate = 'wrongRoot';
  const dir = await tempSessionsDir();
  await writeBaileysAuthFolder(dir, 'cert', 'main', '15558200000');
  const api = await startTestService({ sim, sessionsDir: dir, env: { MAX_RECONNECT_ATTEMPTS: '1' } });
  try {
    const refusals = async () => {
      const families = parsePrometheusTextFormat((await api.call('GET', '/metrics')).body as unknown as string);
      const family = families.find((f) => f.name === 'wa_vigil_certificate_refusals_total');
      return Number(family?.metrics.find((m) => m.labels?.reason === 'intermediateSignature')?.value ?? 0);
    };
    await waitUntil(async () => (await refusals()) >= 2, 10_000);
    const lines = () => api.logs.lines.filter((line) => line.includes('WhatsApp server certificate refused'));
    await waitUntil(() => lines().length >= 2, 10_000);
    expect(JSON.parse(lines()[0]!)).toMatchObject({ level: 40, userId: 'cert', sessionId: 'main', reason: 'intermediateSignature' });
    for (const secret of [sim.rootPublicKeyHex, Buffer.from(sim.rootPublicKey).toString('base64'), whatsAppRootPublicKeyHex]) expect(api.logs.text).not.toContain(secret);
    const view = (await api.call('GET', '/sessions/cert/main')).body;
    expect(view.status).not.toMatch(/^terminated/);
    expect(view.terminatedReason).toBeNull();
    sim.behaviour.certificate = 'valid';
    await api.waitForState('cert', 'main', 'open', 10_000);
  } finally {
    await api.service.stop();
    await removeDir(dir);
  }
}, 30_000);

describe('the chain check itself', () => {
  const root = Curve.generateKeyPair();
  const intermediate = Curve.generateKeyPair();
  const serverStatic = Curve.generateKeyPair();
  const now = 1_800_000_000;
  const details = (fields: proto.CertChain.NoiseCertificate.IDetails) => proto.CertChain.NoiseCertificate.Details.encode(fields).finish();
  function chain(options: { intermediate?: proto.CertChain.NoiseCertificate.IDetails; leaf?: proto.CertChain.NoiseCertificate.IDetails } = {}) {
    const intermediateDetails = details({ serial: 7, issuerSerial: 0, key: intermediate.public, notBefore: now - 10, notAfter: now + 10, ...options.intermediate });
    const leafDetails = details({ serial: 8, issuerSerial: 7, key: serverStatic.public, notBefore: now - 10, notAfter: now + 10, ...options.leaf });
    return {
      intermediate: { details: intermediateDetails, signature: Curve.sign(root.private, intermediateDetails) },
      leaf: { details: leafDetails, signature: Curve.sign(intermediate.private, leafDetails) },
      serverStaticKey: serverStatic.public,
      rootPublicKey: root.public,
      nowSeconds: now,
      verify: xeddsaVerify,
    };
  }

  it('accepts a chain that holds, and names the first thing wrong with one that does not', () => {
    expect(checkCertificateChain(chain())).toBeNull();
    expect(checkCertificateChain({ ...chain(), rootPublicKey: Curve.generateKeyPair().public })).toBe('intermediateSignature');
    expect(checkCertificateChain(chain({ intermediate: { issuerSerial: 1 } }))).toBe('intermediateIssuer');
    expect(checkCertificateChain(chain({ leaf: { issuerSerial: 9 } }))).toBe('leafIssuer');
    expect(checkCertificateChain({ ...chain(), serverStaticKey: Curve.generateKeyPair().public })).toBe('staticKeyMismatch');
    const c = chain();
    expect(checkCertificateChain({ ...c, leaf: { details: c.leaf.details, signature: Curve.sign(root.private, c.leaf.details) } })).toBe('leafSignature');
    expect(checkCertificateChain({ ...c, leaf: { details: c.leaf.details, signature: c.leaf.signature.subarray(0, 63) } })).toBe('malformed');
  });

  it('judges the validity times of both certificates by the clock', () => {
    expect(checkCertificateChain({ ...chain(), nowSeconds: now + 11 })).toBe('expired');
    expect(checkCertificateChain({ ...chain(), nowSeconds: now - 11 })).toBe('notYetValid');
    expect(checkCertificateChain(chain({ intermediate: { notAfter: now - 1 } }))).toBe('expired');
    expect(checkCertificateChain(chain({ leaf: { notBefore: now + 1 } }))).toBe('notYetValid');
  });

  it("the simulator's chain holds under its root and at no other", () => {
    const identity = createNoiseIdentity();
    const { intermediate: i, leaf: l } = proto.CertChain.decode(identity.certChains.valid);
    const check = {
      intermediate: { details: i!.details!, signature: i!.signature! },
      leaf: { details: l!.details!, signature: l!.signature! },
      serverStaticKey: identity.staticKeyPair.public,
      nowSeconds: Math.floor(Date.now() / 1000),
      verify: xeddsaVerify,
    };
    expect(Buffer.from(identity.rootPublicKey).toString('hex')).toBe(simulatorRootPublicKeyHex);
    expect(checkCertificateChain({ ...check, rootPublicKey: identity.rootPublicKey })).toBeNull();
    expect(checkCertificateChain({ ...check, rootPublicKey: whatsAppRootPublicKey })).toBe('intermediateSignature');
  });
});

describe('WA_ROOT_PUBLIC_KEY', () => {
  it("defaults to WhatsApp's published root and reads hex or base64", () => {
    expect(Buffer.from(loadConfig({}).waRootPublicKey).toString('hex')).toBe(whatsAppRootPublicKeyHex);
    const base64 = Buffer.from(simulatorRootPublicKeyHex, 'hex').toString('base64');
    expect(Buffer.from(loadConfig({ WA_ROOT_PUBLIC_KEY: base64 }).waRootPublicKey).toString('hex')).toBe(simulatorRootPublicKeyHex);
    expect(Buffer.from(parseRootPublicKey(`05${simulatorRootPublicKeyHex}`)!).toString('hex')).toBe(simulatorRootPublicKeyHex);
  });

  it('refuses anything that is not a 32-byte key, naming the variable', () => {
    for (const bad of ['abc', '00'.repeat(31), 'not a key!']) {
      expect(() => loadConfig({ WA_ROOT_PUBLIC_KEY: bad })).toThrow(ConfigError);
      expect(() => loadConfig({ WA_ROOT_PUBLIC_KEY: bad })).toThrow(/WA_ROOT_PUBLIC_KEY/);
    }
  });
});
