// `timers` / `node:timers`: the same functions as the globals.
const t = globalThis[Symbol.for('ganglion.internal')].timers;
export const { setTimeout, setInterval, setImmediate, clearTimeout, clearInterval, clearImmediate } = t;
export default { setTimeout, setInterval, setImmediate, clearTimeout, clearInterval, clearImmediate };
