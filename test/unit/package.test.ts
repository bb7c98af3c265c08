/**
 * The published package as a user gets it: `npm pack`, installed into a fresh project, every public entry point
 * imported from a strict `nodenext` TypeScript file, internals unreachable, an example built and run from it, and a
 * user's own app module run by the runtime (its worker thread loads the user's file, which imports 'ixy.ts').
 */
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import assert from 'node:assert/strict';

const ROOT = path.resolve('.');
const TSC = path.join(ROOT, 'node_modules/typescript/bin/tsc');

/** Our own declarations are checked (skipLibCheck off) once, in check.ts; the other compiles skip them for speed. */
function tsconfig(dir: string, files: string[], checkLibs = false): string {
  const file = path.join(dir, `tsconfig.${path.basename(files[0], '.ts')}.json`);
  fs.writeFileSync(file, JSON.stringify({
    compilerOptions: {
      strict: true, module: 'nodenext', moduleResolution: 'nodenext', target: 'es2022', outDir: 'out', rootDir: '.',
      types: ['node'], typeRoots: [path.join(ROOT, 'node_modules/@types')], skipLibCheck: !checkLibs,
    },
    files,
  }));
  return file;
}

const tsc = (dir: string, files: string[], checkLibs = false) => spawnSync(process.execPath, [TSC, '-p', tsconfig(dir, files, checkLibs)], { cwd: dir, encoding: 'utf8' });

test('npm pack ships dist, types, README and LICENSE; installed, every entry point type-checks and an example runs', { timeout: 180_000 }, () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ixy-pack-'));
  try {
    let t = Date.now();
    const lap = (what: string) => { console.log(`${what}: ${Date.now() - t} ms`); t = Date.now(); };
    const tarball = path.join(dir, execFileSync('npm', ['pack', '--ignore-scripts', '--silent', '--pack-destination', dir], { cwd: ROOT, encoding: 'utf8' }).trim().split('\n').pop()!);
    const files = execFileSync('tar', ['-tzf', tarball], { encoding: 'utf8' }).trim().split('\n');
    for (const f of ['package/package.json', 'package/LICENSE', 'package/README.md', 'package/dist/src/index.js', 'package/dist/src/index.d.ts', 'package/dist/src/cli/main.js']) {
      assert.ok(files.includes(f), `${f} is packed`);
    }
    lap('pack');
    assert.deepEqual(files.filter((f) => /\.map$|^package\/(dist\/)?(test|bench|examples|vm)\//.test(f)), [], 'no source maps, tests, benchmarks');

    const app = path.join(dir, 'app');
    fs.mkdirSync(app);
    fs.writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'user-app', private: true, type: 'module' }));
    execFileSync('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', tarball], { cwd: app, stdio: 'pipe' });

    lap('install');
    fs.writeFileSync(path.join(app, 'check.ts'), `
import { createPool, openDevice, Stack, type NetApi, EventKind, ApiError, DeathReason, ElasticThread, IxyError, type App, type Device,
  start, run, type Runtime, type RunResult, type Figures, defineL2App, defineStackApp, UsageError } from 'ixy.ts';
import { registeredDrivers, type DeviceStats } from 'ixy.ts/driver';
import { Ipv4View, TcpView, checksum, WireError } from 'ixy.ts/wire';
import { TimerWheel, parseIpv4Cidr, type TcpConfig } from 'ixy.ts/stack';
import { SimNic, memoryWire, buildTestFrame } from 'ixy.ts/sim';
import { attach, createServer, connect, serve, Socket as NetSocket, Server as NetServer, startServers } from 'ixy.ts/net';
const app: App = { finished: false, start() {}, onEvents() {} };
const api: NetApi | null = null;
const used: unknown[] = [createPool, openDevice, Stack, api, EventKind.Recv, ApiError.Again, DeathReason, ElasticThread, IxyError,
  registeredDrivers, Ipv4View, TcpView, checksum, WireError.Ok, TimerWheel, parseIpv4Cidr('10.0.0.1/24').prefix, SimNic, memoryWire, buildTestFrame, app,
  start, run, defineL2App, defineStackApp, UsageError, attach, createServer, connect, serve, NetSocket, NetServer, startServers];
const rt: Runtime | null = null; const rr: RunResult | null = null; const fig: Figures | null = null;
console.log(rt, rr, fig);
const stats: DeviceStats | null = null; const dev: Device | null = null; const tcp: TcpConfig = {};
console.log(used.length, stats, dev, tcp);
`);
    const ok = tsc(app, ['check.ts'], true);
    assert.equal(ok.status, 0, `${ok.stdout}${ok.stderr}`);

    lap('type-check');
    fs.writeFileSync(path.join(app, 'internal.ts'), "import { readPciDevice } from 'ixy.ts/dist/src/sys/pci.js';\nconsole.log(readPciDevice);\n");
    const internal = tsc(app, ['internal.ts']);
    assert.notEqual(internal.status, 0, 'internal modules are not importable');
    assert.match(internal.stdout, /Cannot find module 'ixy\.ts\/dist\/src\/sys\/pci\.js'/);

    fs.copyFileSync(path.join(ROOT, 'examples/l2-forward.ts'), path.join(app, 'l2-forward.ts'));
    const built = tsc(app, ['l2-forward.ts']);
    assert.equal(built.status, 0, `${built.stdout}${built.stderr}`);
    lap('internal + example builds');
    const run = spawnSync(process.execPath, [path.join(app, 'out/l2-forward.js'), 'sim:0', 'sim:1', '1'], { cwd: app, encoding: 'utf8', timeout: 60_000 });
    assert.equal(run.status, 0, run.stderr);
    const m = /the testers received (\d+) \+ (\d+) of them intact/.exec(run.stdout);
    assert.ok(m && Number(m[1]) > 0 && Number(m[2]) > 0, run.stdout);
    assert.match(run.stdout, /buffers not returned to the pool: 0$/m);

    // the user's own L2 app, a module of the user's project, run by the runtime in its worker thread
    fs.writeFileSync(path.join(app, 'count-app.ts'), `
import { defineL2App, type Device } from 'ixy.ts';
class Count {
  received = 0; readonly finished = false; private readonly ids = new Uint32Array(32);
  constructor(private readonly dev: Device) {}
  step(): number { const n = this.dev.rxBatch(0, this.ids, 32); this.dev.pool.freeBatch(this.ids, 0, n); this.received += n; return n; }
}
export default defineL2App({ devices: [1, 1], create: (ctx) => new Count(ctx.devices[0]), figures: (a) => ({ received: a.received }) });
`);
    fs.writeFileSync(path.join(app, 'run-count.ts'), `
import { run } from 'ixy.ts';
import { SimNic } from 'ixy.ts/sim';
const sim = await SimNic.start();
sim.setGenerator(0, 0.2);
const r = await run({ module: new URL('./count-app.js', import.meta.url) }, { devices: ['sim:0'], seconds: 1 });
await sim.stop();
console.log(\`received \${r.threads[0].app.received} stopped by \${r.stoppedBy} leaked \${r.leakedBuffers}\`);
`);
    const builtApp = tsc(app, ['run-count.ts', 'count-app.ts']);
    assert.equal(builtApp.status, 0, `${builtApp.stdout}${builtApp.stderr}`);
    const counted = spawnSync(process.execPath, [path.join(app, 'out/run-count.js')], { cwd: app, encoding: 'utf8', timeout: 60_000 });
    assert.equal(counted.status, 0, counted.stderr);
    const c = /^received (\d+) stopped by time leaked 0$/m.exec(counted.stdout);
    assert.ok(c && Number(c[1]) > 50_000, counted.stdout + counted.stderr);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
