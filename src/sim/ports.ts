/**
 * The simulator's fixed default ports (`npm run sim`, `npm run cluster:demo`), so a
 * README command or a saved .env works on every run; SIM_PORT / SIM_CONTROL_PORT
 * change them (0 = any free port).
 */
export const defaultSimPort = 3900;
export const defaultSimControlPort = 3901;
