// Node module-resolution hooks (registered by node-preload.mjs): map the
// built-in specifiers that Ganglion provides to the pure-JS modules in
// agent/js/, so the conformance tests exercise our implementation under Node.
import { pathToFileURL } from 'node:url';
import { join } from 'node:path';

let map = new Map();

export async function initialize({ mode, root }) {
  const js = (name) => pathToFileURL(join(root, 'agent', 'js', name)).href;
  map = new Map([
    ['events', js('events.js')],
    ['node:events', js('events.js')],
    ['buffer', js('buffer.js')],
    ['node:buffer', js('buffer.js')],
  ]);
  // 'mixed' keeps Node's assert as the judge of our other modules.
  if (mode !== 'mixed') {
    map.set('assert', js('assert.js'));
    map.set('node:assert', js('assert.js'));
  }
}

export async function resolve(specifier, context, next) {
  const url = map.get(specifier);
  if (url !== undefined) return { url, shortCircuit: true };
  return next(specifier, context);
}
