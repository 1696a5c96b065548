// `node --import` preload used by run-under-node.mjs: registers the resolve
// hooks and replaces Node's web globals with agent/js/web.js, so the tests
// run against Ganglion's JavaScript built-ins instead of Node's.
import { register } from 'node:module';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const mode = process.env.GANGLION_JS_IMPL || 'ganglion';

register('./node-hooks.mjs', import.meta.url, { data: { mode, root } });

const WEB_GLOBALS = [
  'TextEncoder', 'TextDecoder', 'atob', 'btoa', 'AbortController', 'AbortSignal',
  'Event', 'EventTarget', 'CustomEvent', 'DOMException', 'structuredClone',
];
for (const name of WEB_GLOBALS) {
  delete globalThis[name];
  if (typeof globalThis[name] !== 'undefined') {
    throw new Error(`node-preload: could not remove Node's global ${name}`);
  }
}
const web = await import('../../agent/js/web.js');
web.install(globalThis);
for (const name of WEB_GLOBALS) {
  if (globalThis[name] !== web[name]) {
    throw new Error(`node-preload: web.install did not install ${name}`);
  }
}
