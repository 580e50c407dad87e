/**
 * `npm run sim`: a WhatsApp simulator on loopback, with its control endpoint, on
 * fixed ports so a README command or a saved .env works on every run:
 *   SIM_PORT (default 3900: ws://127.0.0.1:3900/ws/chat), SIM_CONTROL_PORT (default 3901); 0 = any free port.
 */
import { ConfigError, integer } from '../config/config-values.js';
import { startControlServer } from './control-server.js';
import { defaultSimControlPort, defaultSimPort } from './ports.js';
import { WaSimulator } from './wa-simulator.js';

let ports: { sim: number; control: number };
try {
  ports = {
    sim: integer(process.env, 'SIM_PORT', defaultSimPort, 0, 65535),
    control: integer(process.env, 'SIM_CONTROL_PORT', defaultSimControlPort, 0, 65535),
  };
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  process.stderr.write(`simulator: configuration error: ${error.message}\n`);
  process.exit(1);
}

const sim = new WaSimulator({ port: ports.sim });
let control: Awaited<ReturnType<typeof startControlServer>>;
let simStarted = false;
try {
  await sim.start();
  simStarted = true;
  control = await startControlServer(sim, ports.control);
} catch (error) {
  const code = (error as NodeJS.ErrnoException).code;
  const port = simStarted ? ports.control : ports.sim;
  const variable = simStarted ? 'SIM_CONTROL_PORT' : 'SIM_PORT';
  process.stderr.write(
    code === 'EADDRINUSE'
      ? `simulator: port ${port} is already in use on 127.0.0.1 (set ${variable} to another one, or 0 for any)\n`
      : `simulator: could not start: ${error instanceof Error ? error.message : String(error)}\n`,
  );
  process.exit(1);
}
process.stdout.write(
  `WhatsApp simulator listening on ${sim.url}\n` +
    `Controls: ${control.url}  (GET /state, POST /faults/close|reset|blackhole|deafen|stream-error|failure|conflict|downgrade, PUT /behaviour, POST /scan, POST /unlink)\n` +
    `Point wa-vigil at it (the root key lets wa-vigil accept the simulator's certificate chain):\n` +
    `  WA_WS_URL=${sim.url} WA_ROOT_PUBLIC_KEY=${sim.rootPublicKeyHex} npm start\n`,
);

let stopping = false;
const shutdown = () => {
  // Ctrl-C reaches every process of the terminal's group, and npm forwards its copy: one stop is enough.
  if (stopping) return;
  stopping = true;
  control.server.close();
  void sim.stop().then(() => process.exit(0));
};
process.on('SIGINT', shutdown);
process.on('SIGTERM', shutdown);
