// Runs the conformance tests in tests/js/*.test.js on the QuickJS-ng engine
// that rquickjs embeds, against agent/js/*.js: proof that the built-in
// modules use nothing QuickJS lacks, before/besides the ganglion binary.
//
//   node tests/js/run-under-qjs.mjs [file.test.js ...]
//
// The `qjs` shell is compiled once (about 10 s) from the C sources shipped in
// the rquickjs-sys crate (version taken from Cargo.lock, found in
// $CARGO_HOME/registry/src; run `cargo fetch` first) into target/qjs/qjs.
// Set QJS=/path/to/qjs to use another build. Each test is copied to a temp
// directory with node:events/assert/buffer rewritten to agent/js paths and a
// prelude that installs web.js and qjs:os timers. Ends with `N passed, N failed`.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir, homedir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const jsDir = join(root, 'agent', 'js');

function fail(msg) {
  console.error(`run-under-qjs: ${msg}`);
  process.exit(2);
}

function quickjsSources() {
  const lock = readFileSync(join(root, 'Cargo.lock'), 'utf8');
  const m = /name = "rquickjs-sys"\nversion = "([^"]+)"/.exec(lock);
  if (!m) fail('rquickjs-sys is not in Cargo.lock');
  const cargoHome = process.env.CARGO_HOME || join(homedir(), '.cargo');
  const srcRoot = join(cargoHome, 'registry', 'src');
  if (existsSync(srcRoot)) {
    for (const index of readdirSync(srcRoot)) {
      const dir = join(srcRoot, index, `rquickjs-sys-${m[1]}`, 'quickjs');
      if (existsSync(join(dir, 'qjs.c'))) return dir;
    }
  }
  fail(`sources of rquickjs-sys ${m[1]} not found under ${srcRoot}; run \`cargo fetch\``);
  return '';
}

function buildQjs() {
  if (process.env.QJS) return process.env.QJS;
  const src = quickjsSources();
  const outDir = join(root, 'target', 'qjs');
  const out = join(outDir, 'qjs');
  const stamp = join(outDir, 'source');
  if (existsSync(out) && existsSync(stamp) && readFileSync(stamp, 'utf8') === src) return out;
  mkdirSync(outDir, { recursive: true });
  const files = ['qjs.c', 'quickjs.c', 'quickjs-libc.c', 'libregexp.c', 'libunicode.c', 'dtoa.c',
    'gen/repl.c', 'gen/standalone.c'].map((f) => join(src, f));
  const cc = process.env.CC || 'cc';
  const r = spawnSync(cc, ['-O1', '-D_GNU_SOURCE', '-DQJS_BUILD_LIBC', `-I${src}`, '-o', out, ...files,
    '-lm', '-lpthread', '-ldl'], { encoding: 'utf8' });
  if (r.status !== 0) fail(`building qjs failed:\n${r.stderr || r.error}`);
  writeFileSync(stamp, src);
  return out;
}

const files = process.argv.slice(2);
if (files.length === 0) {
  for (const f of readdirSync(here).sort()) if (f.endsWith('.test.js')) files.push(join(here, f));
}
const qjs = buildQjs();
const work = mkdtempSync(join(tmpdir(), 'ganglion-qjs-'));
const prelude = join(work, 'prelude.mjs');
writeFileSync(prelude, `import * as os from 'qjs:os';
import * as std from 'qjs:std';
import { install } from ${JSON.stringify(join(jsDir, 'web.js'))};
for (const level of ['error', 'warn', 'info', 'debug']) {
  if (typeof console[level] !== 'function') {
    console[level] = (...args) => std.err.puts(args.map(String).join(' ') + '\\n');
  }
}
if (typeof globalThis.setTimeout !== 'function') {
  globalThis.setTimeout = os.setTimeout;
  globalThis.clearTimeout = os.clearTimeout;
}
install(globalThis);
`);
const modules = { events: 'events.js', assert: 'assert.js', buffer: 'buffer.js' };

let passed = 0;
let failed = 0;
try {
  for (const file of files) {
    const source = readFileSync(file, 'utf8').replace(
      /(['"])(?:node:)?(events|assert|buffer)\1/g,
      (all, q, name) => JSON.stringify(join(jsDir, modules[name])),
    );
    const copy = join(work, basename(file));
    writeFileSync(copy, `import ${JSON.stringify(prelude)};\n${source}`);
    const r = spawnSync(qjs, [copy], { encoding: 'utf8', timeout: 60_000 });
    const lines = (r.stdout || '').trim().split('\n');
    const last = lines[lines.length - 1] || '';
    if (r.status === 0 && /^ok \S+ \d+$/.test(last) && lines.length === 1 && !r.stderr) {
      passed++;
      console.log(`qjs: ${last}`);
    } else {
      failed++;
      console.log(`qjs: FAILED ${basename(file)} (exit ${r.status}${r.signal ? `, ${r.signal}` : ''})`);
      if (r.stdout) console.log(r.stdout.trimEnd());
      if (r.stderr) console.log(r.stderr.trimEnd());
      if (r.error) console.log(String(r.error));
    }
  }
} finally {
  if (statSync(work).isDirectory()) rmSync(work, { recursive: true, force: true });
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
