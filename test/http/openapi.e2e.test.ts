/**
 * The OpenAPI document is complete (every route the service answers is in
 * it, with a summary and its responses), it describes what the routes really
 * return, and /docs works without the internet or the API key.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { sessionViewSchema } from '../../src/session/session-view-schema.js';
import { WaSimulator } from '../../src/sim/wa-simulator.js';
import { removeDir, startTestService, tempSessionsDir } from '../support/service-harness.js';

let sim: WaSimulator;
let dir: string;
let api: Awaited<ReturnType<typeof startTestService>>;

beforeAll(async () => {
  sim = await new WaSimulator().start();
  dir = await tempSessionsDir();
  api = await startTestService({ sim, sessionsDir: dir });
});
afterAll(async () => {
  await api.service.stop();
  await sim.stop();
  await removeDir(dir);
});

interface Operation {
  summary?: string;
  responses?: Record<string, unknown>;
}
type OpenApi = { openapi: string; paths: Record<string, Record<string, Operation>> };

/** Every (method, path) the router holds, from Fastify's own route tree (HEAD left out: Fastify adds it to each GET). */
function routesOf(tree: string): Array<[method: string, path: string]> {
  const routes: Array<[string, string]> = [];
  const pathAtDepth: string[] = [];
  for (const line of tree.split('\n')) {
    const match = /^((?:[│ ] {3})*)[├└]── (\S*) \(([A-Z, ]+)\)$/.exec(line);
    if (!match) continue;
    const depth = match[1]!.length / 4;
    const path = (depth > 0 ? pathAtDepth[depth - 1]! : '') + match[2]!;
    pathAtDepth[depth] = path;
    for (const method of match[3]!.split(', ')) if (method !== 'HEAD') routes.push([method, path]);
  }
  return routes;
}

const openApiPath = (path: string) => path.replace(/:(\w+)/g, '{$1}');
const servedByTheDocsThemselves = (path: string) => path === '/openapi.json' || path === '/docs' || path.startsWith('/docs/');

it('every route is in /openapi.json with a summary and its responses, fetched without a key', async () => {
  const res = await fetch(`${api.service.url}/openapi.json`);
  expect(res.status).toBe(200);
  const doc = (await res.json()) as OpenApi;
  expect(doc.openapi).toMatch(/^3\./);

  const routes = routesOf(api.service.api.printRoutes({ commonPrefix: false })).filter(([, path]) => !servedByTheDocsThemselves(path));
  expect(routes.length).toBeGreaterThanOrEqual(18);
  for (const [method, path] of routes) {
    const operation = doc.paths[openApiPath(path)]?.[method.toLowerCase()];
    expect(operation, `${method} ${path} is not documented`).toBeDefined();
    expect(operation!.summary, `${method} ${path} has no summary`).toBeTruthy();
    expect(Object.keys(operation!.responses ?? {}).some((code) => /^2/.test(code)), `${method} ${path} documents no success`).toBe(true);
  }
  expect(Object.keys(doc.paths).every((path) => !path.startsWith('/docs'))).toBe(true);
});

it('the documented session is exactly what the routes return, and errors are {error, message}', async () => {
  const created = await api.call('POST', '/sessions', { userId: 'doc' });
  expect(created.status).toBe(201);
  expect(Object.keys(created.body).sort()).toEqual([...sessionViewSchema.required].sort());
  const listed = await api.call('GET', '/sessions');
  expect(Object.keys((listed.body as unknown as object[])[0]!).sort()).toEqual([...sessionViewSchema.required].sort());
  const missing = await api.call('GET', '/sessions/nobody/default');
  expect(missing.status).toBe(404);
  expect(Object.keys(missing.body).sort()).toEqual(['error', 'message']);
});

it('/docs is served offline from the package, without a key', async () => {
  const page = await fetch(`${api.service.url}/docs/static/index.html`);
  expect(page.status).toBe(200);
  const html = await page.text();
  expect(html).toContain('swagger-ui-bundle.js');
  expect(html).not.toMatch(/(src|href)="(https?:)?\/\//);
  const initializer = await (await fetch(`${api.service.url}/docs/static/swagger-initializer.js`)).text();
  const code = initializer
    .split('\n')
    .filter((line) => !line.trim().startsWith('//'))
    .join('\n');
  // The spec comes from beside the page; no validator badge calls out to the internet.
  expect(code).not.toMatch(/https?:\/\//);
  expect(code).toContain('validatorUrl: null');
  expect((await fetch(`${api.service.url}/docs/static/swagger-ui-bundle.js`)).status).toBe(200);
  expect((await fetch(`${api.service.url}/docs`)).status).toBe(200);
});
