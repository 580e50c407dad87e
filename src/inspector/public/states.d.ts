/** The module /inspector/states.js, written by the server from machines/session.states.ts (inspector-plugin.ts). */
export const states: readonly string[];
