/**
 * A small loopback HTTP endpoint that drives a running simulator from outside
 * (`npm run sim`, the demo, benchmarks in another process):
 *
 *   GET  /state                      counters and open connections
 *   POST /faults/<fault>             {connection?: id, code?: n}; fault is one of
 *        close · reset · blackhole · deafen · stream-error · unknown-stream-error ·
 *        failure · conflict · downgrade      (no connection id: every open one)
 *   PUT  /behaviour                  {noHandshakeReply?, withholdLogin?, loginDelayMs?, replyDelayMs?, qrRefCount?, certificate?, rejectUpgrades?}
 *   POST /scan                       {qr, phone?}: a phone scans a QR
 *   POST /unlink                     {jid}: the phone unlinks a device
 *   POST /contacts                   {phone, lid?, pushName?, receipts?: none|delivered|read}: a contact joins WhatsApp
 *   GET  /contacts                   every contact with what its phone received
 *   POST /contacts/<phone>/messages  {to: device jid, text, addressing?: pn|lid}: the contact sends a text → {id}
 *   POST /contacts/<phone>/retry     {to: device jid, id}: the contact's phone asks for message id again
 */
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { certificateVariants, type CertificateVariant } from './certificates.js';
import type { ContactPhone, ReceiptMode } from './contacts.js';
import type { SimulatedConnection } from './simulated-connection.js';
import type { WaSimulator } from './wa-simulator.js';

const maxBodyBytes = 16 * 1024;

const faults: Record<string, (c: SimulatedConnection, code: number | undefined) => void> = {
  close: (c) => c.close(),
  reset: (c) => c.reset(),
  blackhole: (c) => c.blackhole(),
  deafen: (c) => c.blackhole({ stopReading: true }),
  'stream-error': (c, code) => c.streamError(code ?? 503),
  'unknown-stream-error': (c) => c.unknownStreamError(),
  failure: (c, code) => c.failure(code ?? 401),
  conflict: (c) => c.conflict(),
  downgrade: (c) => c.downgrade(),
};

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export async function startControlServer(sim: WaSimulator, port = 0): Promise<{ url: string; server: Server }> {
  const server = createServer((req, res) => {
    handle(sim, req)
      .then((body) => reply(res, 200, body))
      .catch((error: unknown) => {
        const status = error instanceof HttpError ? error.status : 500;
        reply(res, status, { error: status === 500 ? 'internal' : 'bad_request', message: error instanceof Error ? error.message : String(error) });
      });
  });
  server.listen(port, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${address.port}`, server };
}

async function handle(sim: WaSimulator, req: IncomingMessage): Promise<unknown> {
  const path = new URL(req.url ?? '/', 'http://localhost').pathname;
  if (req.method === 'GET' && path === '/state') return state(sim);
  const body = req.method === 'POST' || req.method === 'PUT' ? await readJson(req) : {};
  if (req.method === 'POST' && path.startsWith('/faults/')) {
    const fault = faults[path.slice('/faults/'.length)];
    if (!fault) throw new HttpError(404, `unknown fault; one of: ${Object.keys(faults).join(', ')}`);
    const code = optionalNumber(body, 'code');
    const target = optionalNumber(body, 'connection');
    const affected = sim.forEach((c) => fault(c, code), (c) => target === undefined || c.id === target);
    return { affected };
  }
  if (req.method === 'PUT' && path === '/behaviour') {
    const { rejectUpgrades, ...behaviour } = body as Record<string, unknown>;
    for (const [key, value] of Object.entries(behaviour)) {
      if (!(key in sim.behaviour)) throw new HttpError(400, `behaviour: unknown field ${key}`);
      if (typeof value !== typeof sim.behaviour[key as keyof typeof sim.behaviour]) throw new HttpError(400, `behaviour.${key}: wrong type`);
      if (key === 'certificate' && !certificateVariants.includes(value as CertificateVariant)) {
        throw new HttpError(400, `behaviour.certificate: one of ${certificateVariants.join(', ')}`);
      }
    }
    Object.assign(sim.behaviour, behaviour);
    if (typeof rejectUpgrades === 'boolean') sim.rejectUpgrades = rejectUpgrades;
    return { behaviour: sim.behaviour, rejectUpgrades: sim.rejectUpgrades };
  }
  if (req.method === 'POST' && path === '/scan') {
    const qr = (body as { qr?: unknown }).qr;
    if (typeof qr !== 'string') throw new HttpError(400, 'qr: required string');
    const phone = (body as { phone?: unknown }).phone;
    try {
      return sim.scanQr(qr, typeof phone === 'string' ? phone : undefined);
    } catch (error) {
      throw new HttpError(409, error instanceof Error ? error.message : String(error));
    }
  }
  if (req.method === 'POST' && path === '/unlink') {
    const jid = (body as { jid?: unknown }).jid;
    if (typeof jid !== 'string') throw new HttpError(400, 'jid: required string');
    sim.unlinkDevice(jid);
    return { unlinked: jid };
  }
  if (path === '/contacts' || path.startsWith('/contacts/')) return contacts(sim, req.method ?? 'GET', path, body);
  throw new HttpError(404, `no route ${req.method} ${path}`);
}

const receiptModes: readonly ReceiptMode[] = ['none', 'delivered', 'read'];

async function contacts(sim: WaSimulator, method: string, path: string, body: Record<string, unknown>): Promise<unknown> {
  if (path === '/contacts' && method === 'GET') return sim.messaging.contacts.all().map(contactState);
  if (path === '/contacts' && method === 'POST') {
    const phone = requiredString(body, 'phone');
    const receipts = body.receipts;
    if (receipts !== undefined && !receiptModes.includes(receipts as ReceiptMode)) throw new HttpError(400, `receipts: one of ${receiptModes.join(', ')}`);
    const lid = body.lid === undefined ? undefined : requiredString(body, 'lid');
    const pushName = body.pushName === undefined ? undefined : requiredString(body, 'pushName');
    try {
      return contactState(sim.addContact({ phone, ...(lid ? { lid } : {}), ...(pushName ? { pushName } : {}), ...(receipts ? { receipts: receipts as ReceiptMode } : {}) }));
    } catch (error) {
      throw new HttpError(400, error instanceof Error ? error.message : String(error));
    }
  }
  const match = /^\/contacts\/(\d+)\/(messages|retry)$/.exec(path);
  if (!match || method !== 'POST') throw new HttpError(404, `no route ${method} ${path}`);
  const from = match[1]!;
  if (!sim.contact(from)) throw new HttpError(404, `${from} is not a contact`);
  const to = requiredString(body, 'to');
  try {
    if (match[2] === 'retry') {
      sim.retryReceipt(to, { from, id: requiredString(body, 'id') });
      return { retried: body.id };
    }
    const addressing = body.addressing === 'lid' ? 'lid' : 'pn';
    return { id: await sim.sendText(to, { from, text: requiredString(body, 'text'), addressing }) };
  } catch (error) {
    if (error instanceof HttpError) throw error;
    throw new HttpError(409, error instanceof Error ? error.message : String(error));
  }
}

function contactState(contact: ContactPhone) {
  return { phone: contact.phone, jid: contact.jid, lid: contact.lid, receipts: contact.receipts, shown: contact.shownIds().length, inbox: contact.inbox };
}

function requiredString(body: Record<string, unknown>, field: string): string {
  const value = body[field];
  if (typeof value !== 'string' || value === '') throw new HttpError(400, `${field}: required string`);
  return value;
}

function state(sim: WaSimulator) {
  const cpu = process.cpuUsage();
  return {
    url: sim.url,
    /** The root its certificate chain is signed by: a client's WA_ROOT_PUBLIC_KEY. */
    rootPublicKey: sim.rootPublicKeyHex,
    /** This process's CPU so far (benchmarks charge the server's share of a reconnect with it). */
    cpuMs: (cpu.user + cpu.system) / 1000,
    counters: sim.counters,
    rejectUpgrades: sim.rejectUpgrades,
    behaviour: sim.behaviour,
    connections: sim.openConnections.map((c) => ({ id: c.id, phase: c.phase, jid: c.jid, counters: c.counters })),
  };
}

function optionalNumber(body: unknown, field: string): number | undefined {
  const value = (body as Record<string, unknown>)[field];
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value)) throw new HttpError(400, `${field}: must be an integer`);
  return value;
}

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > maxBodyBytes) throw new HttpError(413, 'body: too large');
    chunks.push(chunk as Buffer);
  }
  if (size === 0) return {};
  try {
    const parsed: unknown = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('not an object');
    return parsed as Record<string, unknown>;
  } catch {
    throw new HttpError(400, 'body: must be a JSON object');
  }
}

function reply(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}
