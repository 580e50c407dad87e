/**
 * Every node serves the whole API: the QR of a session another node runs (raw and
 * PNG) is the owner's current QR, asked of the owner, never a 404 from the node that
 * happened to get the request.
 */
import jsQRModule from 'jsqr';
import { PNG } from 'pngjs';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { pgCluster } from '../support/pg-cluster.js';
import { testApiKey } from '../support/service-harness.js';
import { waitUntil } from '../../fixtures/wait.js';

// jsqr is CommonJS with a default export: reached the same way under every loader.
const jsQR = ((jsQRModule as unknown as { default?: typeof jsQRModule }).default ?? jsQRModule) as unknown as typeof jsQRModule.default;

const cluster = pgCluster();
beforeAll(() => cluster.start(), 120_000);
afterAll(() => cluster.stop());

it('the QR of a session owned by node B is served by node A, raw and as a PNG', async () => {
  const a = await cluster.node();
  const b = await cluster.node();
  const holders = new Map([[await cluster.holderOf(a), a], [await cluster.holderOf(b), b]]);
  // `qr…` users show a QR (the harness's fake connection); placement may hand it to either node.
  expect((await b.call('POST', '/sessions', { userId: 'qrcat' })).status).toBeLessThan(300);
  // Placement may still hand the session over once: wait until one node owns it and shows its QR.
  const rawQr = async (svc: typeof a) => {
    const answer = await svc.call('GET', '/sessions/qrcat/default/qr?format=raw');
    return answer.status === 200 ? (answer.body as unknown as { qr: string }).qr : null;
  };
  const ownerOf = async () => ((await a.call('GET', '/sessions/qrcat/default')).body as unknown as { owner: string | null }).owner;
  let owning: typeof a | undefined;
  await waitUntil(async () => {
    const owner = await ownerOf();
    owning = owner ? holders.get(owner) : undefined;
    return owning !== undefined && (await rawQr(owning)) !== null;
  }, 15_000);
  const other = owning === a ? b : a;

  // Asked of the node that does not run it: the owner's QR, raw and as a PNG.
  const fromOwner = await rawQr(owning!);
  const raw = await other.call('GET', '/sessions/qrcat/default/qr?format=raw');
  expect(raw.status).toBe(200);
  expect(raw.body).toEqual({ qr: fromOwner });

  const png = await fetch(`${other.service.url}/sessions/qrcat/default/qr`, { headers: { authorization: `Bearer ${testApiKey}` } });
  expect(png.status).toBe(200);
  expect(png.headers.get('content-type')).toBe('image/png');
  expect(png.headers.get('cache-control')).toBe('no-store');
  const image = PNG.sync.read(Buffer.from(await png.arrayBuffer()));
  expect(jsQR(new Uint8ClampedArray(image.data), image.width, image.height)?.data).toBe(fromOwner);
}, 60_000);
