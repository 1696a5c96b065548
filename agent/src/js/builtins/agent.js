// `ganglion:agent`: this agent's identity and lifecycle, as an EventEmitter.
//   agent.id, agent.version, agent.board        identity from ganglion.toml
//   agent.on('shutdown', (reason) => ...)        SIGTERM/SIGINT: finish within the grace period
//   agent.healthy()                              tell the OTA trial window this script works
//   agent.stats()                                uncaught errors, events delivered, uptime
const agent = globalThis[Symbol.for('ganglion.internal')].agent;
export default agent;
export const id = agent.id;
export const version = agent.version;
export const board = agent.board;
export const healthy = () => agent.healthy();
export const stats = () => agent.stats();
export const on = (event, fn) => agent.on(event, fn);
export const once = (event, fn) => agent.once(event, fn);
export const off = (event, fn) => agent.off(event, fn);
