/**
 * `npm run sim`: a WhatsApp simulator on loopback, with its control endpoint.
 *   SIM_PORT (default 0 = any), SIM_CONTROL_PORT (default 0 = any)
 */
import { startControlServer } from './control-server.js';
import { WaSimulator } from './wa-simulator.js';

const sim = await new WaSimulator({ port: Number(process.env.SIM_PORT ?? 0) }).start();
const control = await startControlServer(sim, Number(process.env.SIM_CONTROL_PORT ?? 0));
process.stdout.write(
  `WhatsApp simulator listening on ${sim.url}\n` +
    `Controls: ${control.url}  (GET /state, POST /faults/close|reset|blackhole|deafen|stream-error|failure|conflict|downgrade, PUT /behaviour, POST /scan, POST /unlink)\n` +
    `Point wa-vigil at it: WA_WS_URL=${sim.url} npm start\n`,
);

const shutdown = () => {
  control.server.close();
  void sim.stop().then(() => process.exit(0));
};
process.once('SIGINT', shutdown);
process.once('SIGTERM', shutdown);
