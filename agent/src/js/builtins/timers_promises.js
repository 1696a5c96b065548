// `timers/promises` / `node:timers/promises`: promise-returning timers with AbortSignal support.
const t = globalThis[Symbol.for('ganglion.internal')].timers;

function abortError(signal) {
  const e = new Error('The operation was aborted');
  e.name = 'AbortError';
  e.code = 'ABORT_ERR';
  e.cause = signal.reason;
  return e;
}

function later(schedule, clear, value, options = {}) {
  const { signal, ref = true } = options;
  if (signal && signal.aborted) return Promise.reject(abortError(signal));
  return new Promise((resolve, reject) => {
    let onAbort;
    const handle = schedule(() => {
      if (signal) signal.removeEventListener('abort', onAbort);
      resolve(value);
    });
    if (!ref) handle.unref();
    if (signal) {
      onAbort = () => {
        clear(handle);
        reject(abortError(signal));
      };
      signal.addEventListener('abort', onAbort, { once: true });
    }
  });
}

export function setTimeout(delay, value, options) {
  return later((cb) => t.setTimeout(cb, delay), t.clearTimeout, value, options);
}

export function setImmediate(value, options) {
  return later((cb) => t.setImmediate(cb), t.clearImmediate, value, options);
}

export async function* setInterval(delay, value, options = {}) {
  const { signal } = options;
  let pending = 0;
  let wake = null;
  const handle = t.setInterval(() => {
    pending++;
    if (wake) wake();
  }, delay);
  if (options.ref === false) handle.unref();
  try {
    while (true) {
      if (signal && signal.aborted) throw abortError(signal);
      if (pending === 0) {
        await new Promise((resolve, reject) => {
          wake = resolve;
          if (signal) signal.addEventListener('abort', () => reject(abortError(signal)), { once: true });
        });
        wake = null;
      }
      if (pending > 0) {
        pending--;
        yield value;
      }
    }
  } finally {
    t.clearInterval(handle);
  }
}

export const scheduler = {
  wait: (delay, options) => setTimeout(delay, undefined, options),
  yield: () => setImmediate(),
};

export default { setTimeout, setImmediate, setInterval, scheduler };
