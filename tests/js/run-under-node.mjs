// Runs the conformance tests in tests/js/*.test.js under Node.js 20+.
//
//   node tests/js/run-under-node.mjs [--impl=node|ganglion|mixed|all] [file.test.js ...]
//
// node:     the tests against Node's own built-ins (the specification).
// ganglion: node:events/assert/buffer resolve to agent/js/*.js and the web
//           globals come from agent/js/web.js (see node-preload.mjs).
// mixed:    like ganglion, but Node's assert judges our other modules.
// all (default): the three in turn. Each test file must exit 0 and end with
// the line `ok <name> <count>`. Without file arguments the differential tests
// in node-only/ run too. Ends with `N passed, N failed`.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { dirname, join, basename } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 20 || (major === 20 && minor < 6)) {
  console.error(`run-under-node: needs Node.js >= 20.6 (module.register), found ${process.version}`);
  process.exit(2);
}
let impl = 'all';
const files = [];
for (const arg of process.argv.slice(2)) {
  if (arg.startsWith('--impl=')) impl = arg.slice('--impl='.length);
  else files.push(arg);
}
const modes = impl === 'all' ? ['node', 'ganglion', 'mixed'] : [impl];
for (const m of modes) {
  if (!['node', 'ganglion', 'mixed'].includes(m)) {
    console.error(`run-under-node: unknown --impl=${m} (node, ganglion, mixed or all)`);
    process.exit(2);
  }
}
const explicitFiles = files.length;
if (files.length === 0) {
  for (const f of readdirSync(here).sort()) if (f.endsWith('.test.js')) files.push(join(here, f));
}

let passed = 0;
let failed = 0;
for (const mode of modes) {
  for (const file of files) {
    const args = mode === 'node' ? [] : ['--import', pathToFileURL(join(here, 'node-preload.mjs')).href];
    const r = spawnSync(process.execPath, [...args, file], {
      env: { ...process.env, GANGLION_JS_IMPL: mode },
      encoding: 'utf8',
      timeout: 60_000,
    });
    const lines = (r.stdout || '').trim().split('\n');
    const last = lines[lines.length - 1] || '';
    const good = r.status === 0 && /^ok \S+ \d+$/.test(last) && lines.length === 1 && !r.stderr;
    if (good) {
      passed++;
      console.log(`${mode}: ${last}`);
    } else {
      failed++;
      console.log(`${mode}: FAILED ${basename(file)} (exit ${r.status}${r.signal ? `, ${r.signal}` : ''})`);
      if (r.stdout) console.log(r.stdout.trimEnd());
      if (r.stderr) console.log(r.stderr.trimEnd());
      if (r.error) console.log(String(r.error));
    }
  }
}
// node-only/*.mjs compare our modules with Node's directly (differential tests).
if (explicitFiles === 0) {
  const dir = join(here, 'node-only');
  for (const f of readdirSync(dir).sort()) {
    if (!f.endsWith('.mjs')) continue;
    const r = spawnSync(process.execPath, ['--no-warnings', join(dir, f)], { encoding: 'utf8', timeout: 120_000 });
    const last = (r.stdout || '').trim().split('\n').pop() || '';
    if (r.status === 0 && /^ok \S+ \d+$/.test(last) && !r.stderr) {
      passed++;
      console.log(`node-only: ${last}`);
    } else {
      failed++;
      console.log(`node-only: FAILED ${f} (exit ${r.status})`);
      if (r.stdout) console.log(r.stdout.trimEnd());
      if (r.stderr) console.log(r.stderr.trimEnd());
    }
  }
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
