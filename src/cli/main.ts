#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { runDemo } from './demo.js';
import { devicesReport, printDevices } from '../apps/devices.js';
import { PKTGEN_STREAM } from '../apps/pktgen.js';
import { parseDeviceSpec, registeredDrivers, SimNic } from '../driver/index.js';
import { IxyError, UsageError } from '../util/errors.js';
import { describeParseArgsError } from '../util/parse-args-error.js';
import { checkDistinctDevices, checkWritable } from './checks.js';
import { printL2Summary, runL2 } from './l2-commands.js';
import { runEcho, runHttp, runNetcat, runPingpong } from './stack-commands.js';
import { runKv } from './kv-command.js';

type Kind = 'int' | 'number' | 'string' | 'boolean';
interface Opt { kind: Kind; help: string; default?: string | boolean; min?: number; max?: number; /** A one-letter alias (memcached's -m, -I, -c). */ short?: string }
interface Command { usage: string; summary: string; positionals: number; options: Record<string, Opt> }

const RING: Opt = { kind: 'int', help: 'descriptors per ring (power of two, 64..4096)', default: '512', min: 64, max: 4096 };
const POOL: Opt = { kind: 'int', help: 'packet buffers in the mempool', default: '4096', min: 64, max: 1 << 22 };
const BATCH: Opt = { kind: 'int', help: 'packets per rxBatch/txBatch call (1..ring size)', default: '32', min: 1, max: 4096 };
const SECONDS: Opt = { kind: 'number', help: 'stop after this many seconds (default: run until Ctrl-C)', min: 0 };
const CPU: Opt = { kind: 'int', help: 'pin the dataplane thread to this CPU (-1: no pinning)', default: '-1', min: -1, max: 1023 };
const FORCE: Opt = { kind: 'boolean', help: 'take a PCI device even if the kernel uses it for an interface that is up' };
const SIM_RATE: Opt = { kind: 'number', help: 'for sim devices: Mpps each simulated tester sends into its port', default: '1', min: 0, max: 14.88 };
const SIM_WIRE: Opt = {
  kind: 'string',
  help: 'for sim devices: where the simulated ports\' wires go: "tester" (a generator/sink each), "loop" (port 0 to 1), ' +
    'or Linux interfaces IF0,IF1 (real frames cross the simulated NIC)',
  default: 'tester',
};
const JSON_OPT: Opt = { kind: 'boolean', help: 'print the result as one JSON object on the last line' };
const JSON_LIVE: Opt = {
  kind: 'boolean',
  help: 'machine-readable output (NDJSON): a {"type":"stats",…} object a second, then a {"type":"summary",…} object',
};

const DEV: Opt = { kind: 'string', help: 'the device the stack runs on (xdp:IF, packet:IF, tap:NAME, virtio:…, ixgbe:…, impair:…/DEV)' };
const IP: Opt = { kind: 'string', help: "the stack's IPv4 address and prefix, A.B.C.D/N" };
const STACK_OPTS: Record<string, Opt> = {
  dev: DEV, ip: IP,
  gateway: { kind: 'string', help: 'next hop for addresses outside the prefix (A.B.C.D)' },
  mac: { kind: 'string', help: "the stack's MAC (default: the device's; on tap: the tap's with the last byte changed)" },
  port: { kind: 'int', help: 'TCP port', default: '7', min: 1, max: 65535 },
  batch: { kind: 'int', help: 'B: most packets taken per loop iteration (IX: 64)', default: '64', min: 1, max: 1024 },
  'pool-size': { ...POOL, default: '16384' }, 'ring-size': RING, seconds: SECONDS, json: JSON_LIVE, force: FORCE,
  'sim-wire': { kind: 'string', help: 'with --dev sim:N: the Linux interfaces IF0,IF1 the simulated ports are cabled to (where the peers are)' },
};

const COMMANDS: Record<string, Command> = {
  demo: {
    usage: 'ixy demo [options]', positionals: 0,
    summary: 'tester → sim:0 → fwd → sim:1 → tester on the simulated 82599, live stats, then a verdict',
    options: {
      seconds: { ...SECONDS, help: 'how long to measure', default: '10' },
      warmup: { kind: 'number', help: 'seconds of traffic before measuring (JIT warm-up, not counted)', default: '1', min: 0, max: 60 },
      rate: { kind: 'number', help: 'offered load in Mpps (capped at 10 GbE line rate, 14.88)', default: '2', min: 0.000001, max: 14.88 },
      batch: BATCH, 'ring-size': RING, 'pool-size': POOL,
      'no-pin': { kind: 'boolean', help: 'do not pin the NIC model to CPU 0 and the forwarder to CPU 1' },
      json: JSON_LIVE,
    },
  },
  fwd: {
    usage: 'ixy fwd <devA> <devB> [options]', positionals: 2,
    summary: 'forward packets between two devices in both directions, touching one byte of each',
    options: {
      batch: BATCH, seconds: SECONDS, 'ring-size': RING, 'pool-size': POOL, force: FORCE, cpu: CPU,
      'sim-rate': SIM_RATE, 'sim-wire': SIM_WIRE, json: JSON_LIVE,
    },
  },
  pktgen: {
    usage: 'ixy pktgen <dev> [options]', positionals: 1,
    summary: 'send 60-byte UDP test frames with sequence numbers and a correct IPv4 checksum',
    options: {
      rate: { kind: 'number', help: 'Mpps to send, 0 = as fast as possible', default: '0', min: 0, max: 1000 },
      dst: { kind: 'string', help: 'destination MAC', default: 'ff:ff:ff:ff:ff:ff' },
      count: { kind: 'int', help: 'stop after sending this many frames (0: no limit)', default: '0', min: 0, max: Number.MAX_SAFE_INTEGER },
      batch: BATCH, seconds: SECONDS, 'ring-size': RING, 'pool-size': POOL, force: FORCE, cpu: CPU, 'sim-wire': SIM_WIRE, json: JSON_LIVE,
    },
  },
  pcap: {
    usage: 'ixy pcap <dev> <file.pcap> [options]', positionals: 2,
    summary: 'write the packets a device receives to a pcap file (tshark/Wireshark)',
    options: {
      count: { kind: 'int', help: 'stop after this many packets (0: no limit)', default: '0', min: 0, max: Number.MAX_SAFE_INTEGER },
      snaplen: { kind: 'int', help: 'bytes of each packet to keep', default: '65535', min: 14, max: 262144 },
      'no-promisc': { kind: 'boolean', help: 'do not put the device in promiscuous mode' },
      batch: BATCH, seconds: SECONDS, 'ring-size': RING, 'pool-size': POOL, force: FORCE, cpu: CPU,
      'sim-rate': SIM_RATE, 'sim-wire': SIM_WIRE, json: JSON_LIVE,
    },
  },
  echo: {
    usage: 'ixy echo server|client --dev <spec> --ip <A.B.C.D/N> [options]', positionals: 1,
    summary: 'the IX/mTCP echo benchmark on the TCP/IP stack: a zero-copy echo server, or a client with many connections',
    options: {
      ...STACK_OPTS,
      connect: { kind: 'string', help: 'client: the server address A.B.C.D' },
      connections: { kind: 'int', help: 'client: concurrent connections', default: '64', min: 1, max: 1 << 20 },
      size: { kind: 'int', help: 'client: message size in bytes', default: '64', min: 1, max: 1 << 20 },
      rounds: { kind: 'int', help: 'client: round trips per connection before it is replaced (0: keep it)', default: '0', min: 0, max: 1 << 30 },
      messages: { kind: 'int', help: 'client: stop after this many messages (0: no limit)', default: '0', min: 0, max: Number.MAX_SAFE_INTEGER },
      threads: {
        kind: 'int', help: 'elastic threads, one device queue each (shared-nothing, IX): xdp: (a veth made with numrxqueues N) or sim: devices',
        default: '1', min: 1, max: 64,
      },
      pin: { kind: 'boolean', help: 'with --threads: pin thread i to CPU i' },
    },
  },
  pingpong: {
    usage: 'ixy pingpong server|client --dev <spec> --ip <A.B.C.D/N> [options]', positionals: 1,
    summary: 'NetPIPE-style latency and goodput vs message size over the TCP/IP stack (the server echoes)',
    options: {
      ...STACK_OPTS,
      connect: { kind: 'string', help: 'client: the server address A.B.C.D' },
      sizes: { kind: 'string', help: 'client: message sizes in bytes, comma-separated', default: '1,64,256,1024,4096,16384,65536' },
      rounds: { kind: 'int', help: 'client: least round trips per size', default: '1000', min: 1, max: 1 << 30 },
      'min-ms': { kind: 'int', help: 'client: least milliseconds per size', default: '200', min: 0, max: 3_600_000 },
      warmup: { kind: 'int', help: 'client: round trips before measuring (JIT warm-up)', default: '2000', min: 0, max: 1 << 30 },
    },
  },
  nc: {
    usage: 'ixy nc --dev <spec> --ip <A.B.C.D/N> (--listen <port> | --connect <A.B.C.D> --port <port>) [--in F] [--out F]', positionals: 0,
    summary: 'netcat on the TCP/IP stack: send a file, save what arrives, print both sha256 sums',
    options: {
      ...STACK_OPTS,
      listen: { kind: 'int', help: 'wait for one connection on this port', min: 1, max: 65535 },
      connect: { kind: 'string', help: 'connect to this address (with --port)' },
      in: { kind: 'string', help: 'file to send once connected (default: nothing)' },
      out: { kind: 'string', help: 'file to write the received bytes to' },
    },
  },
  http: {
    usage: 'ixy http --dev <spec> --ip <A.B.C.D/N> [--port 80] [--dir D] [--threads N] [options]', positionals: 0,
    summary: "Node's http server on the TCP/IP stack (ixy.ts/net): the files under --dir, or a fixed hello world; an access log",
    options: {
      ...STACK_OPTS,
      port: { kind: 'int', help: 'TCP port', default: '80', min: 1, max: 65535 },
      dir: { kind: 'string', help: 'serve the files under this directory (default: "hello world" for every request)' },
      'access-log': { kind: 'string', help: 'where access log lines go: stdout or none', default: 'stdout' },
      threads: {
        kind: 'int', help: 'elastic threads, each running its own copy of the server on its own device queue (as cluster)', default: '1', min: 1, max: 64,
      },
      pin: { kind: 'boolean', help: 'with --threads: pin thread i to CPU i' },
    },
  },
  kv: {
    usage: 'ixy kv --dev <spec> --ip <A.B.C.D/N> [--port 11211] [-m MiB] [-I size] [-c max-conns] [options]', positionals: 0,
    summary: 'a memcached-compatible key-value server (text protocol) on the TCP/IP stack: zero-copy GETs from its item memory',
    options: {
      ...STACK_OPTS,
      port: { kind: 'int', help: 'TCP port', default: '11211', min: 1, max: 65535 },
      'memory-limit': { kind: 'int', short: 'm', help: 'item memory in MiB (never exceeded: LRU eviction per slab class)', default: '64', min: 1, max: 4096 },
      'max-item-size': { kind: 'string', short: 'I', help: 'largest item, bytes or with k/m (memcached -I)', default: '1m' },
      'conn-limit': { kind: 'int', short: 'c', help: 'most concurrent connections; more are refused with an error line', default: '1024', min: 1, max: 65536 },
      'output-bound': { kind: 'int', help: "a connection's unacknowledged reply bytes after which its requests wait", default: '1048576', min: 65536, max: 1 << 30 },
      'copy-below': { kind: 'int', help: 'values shorter than this are copied into the reply instead of sent from the item memory', default: '0', min: 0, max: 4096 },
    },
  },
  devices: {
    usage: 'ixy devices [options]', positionals: 0,
    summary: 'list PCI network devices and Linux interfaces, their kernel driver, and which specs may take them',
    options: {
      json: JSON_OPT,
      sysfs: { kind: 'string', help: 'sysfs root (for testing)', default: '/sys' },
      procfs: { kind: 'string', help: 'procfs root, for net/route and net/ipv6_route (for testing)', default: '/proc' },
    },
  },
};

function mainHelp(): string {
  const lines = ['ixy.ts — a user-space network dataplane for Node.js', '', 'usage: ixy <command> [options]   (ixy <command> --help for its options)', '', 'commands:'];
  for (const [name, c] of Object.entries(COMMANDS)) lines.push(`  ${name.padEnd(8)} ${c.summary}`);
  lines.push('', ...deviceKindsHelp());
  return lines.join('\n');
}

/** Every device kind's spec, one a line (the driver registry's usage lines). */
function deviceKindsHelp(): string[] {
  return ['devices are named by specs (`ixy devices` lists what this machine has):', ...registeredDrivers().map((d) => `  ${d.usage}`)];
}

function commandHelp(name: string): string {
  const c = COMMANDS[name];
  const lines = [`usage: ${c.usage}`, '', c.summary, '', 'options:'];
  for (const [k, o] of Object.entries(c.options)) {
    const arg = o.kind === 'boolean' ? '' : ` <${o.kind === 'string' ? 'value' : 'n'}>`;
    const def = o.default !== undefined ? ` (default ${o.default})` : '';
    lines.push(`  --${(k + arg).padEnd(18)} ${o.help}${def}${o.short ? ` (also -${o.short})` : ''}`);
  }
  lines.push(`  --${'help'.padEnd(18)} show this help`);
  if (c.usage.includes('<dev')) lines.push('', ...deviceKindsHelp());
  return lines.join('\n');
}

function parseCommand(name: string, argv: string[]): { pos: string[]; v: Record<string, string | number | boolean | undefined> } {
  const c = COMMANDS[name];
  const options: Record<string, { type: 'string' | 'boolean' }> = { help: { type: 'boolean' } };
  for (const [k, o] of Object.entries(c.options)) options[k] = { type: o.kind === 'boolean' ? 'boolean' : 'string', ...(o.short ? { short: o.short } : {}) };
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (e) {
    throw new UsageError(describeParseArgsError((e as Error).message, `see ixy ${name} --help`).replace(/^(unknown option '[^']+')/, `$1 for '${name}'`));
  }
  if (parsed.values.help) { console.log(commandHelp(name)); process.exit(0); }
  if (parsed.positionals.length !== c.positionals) {
    throw new UsageError(`'${name}' takes ${c.positionals} argument(s), got ${parsed.positionals.length}: usage: ${c.usage}`);
  }
  const v: Record<string, string | number | boolean | undefined> = {};
  for (const [k, o] of Object.entries(c.options)) {
    const raw = parsed.values[k] ?? o.default;
    if (raw === undefined) { v[k] = undefined; continue; }
    if (o.kind === 'boolean' || o.kind === 'string') { v[k] = raw; continue; }
    const n = Number(raw);
    const bad = typeof raw !== 'string' || raw.trim() === '' || !Number.isFinite(n) || (o.kind === 'int' && !Number.isInteger(n)) ||
      (o.min !== undefined && n < o.min) || (o.max !== undefined && n > o.max);
    if (bad) {
      const range = `${o.min ?? '-∞'}..${o.max ?? '∞'}`;
      throw new UsageError(`--${k} must be ${o.kind === 'int' ? 'an integer' : 'a number'} in ${range}, not '${String(raw)}'`);
    }
    if (k === 'ring-size' && (n & (n - 1)) !== 0) throw new UsageError(`--ring-size must be a power of two in ${o.min}..${o.max}, not '${String(raw)}'`);
    v[k] = n;
  }
  if (name !== 'echo' && name !== 'pingpong' && typeof v.batch === 'number' && typeof v['ring-size'] === 'number' && v.batch > v['ring-size']) {
    throw new UsageError(`--batch ${v.batch} is larger than the ring size ${v['ring-size']}: use 1..${v['ring-size']}`);
  }
  return { pos: parsed.positionals, v };
}

function parseMac(s: string): number[] {
  const m = /^([0-9a-f]{2})(?::([0-9a-f]{2})){5}$/i.test(s) ? s.split(':').map((x) => parseInt(x, 16)) : null;
  if (!m) throw new UsageError(`'${s}' is not a MAC address: use six hex bytes like 02:00:00:00:00:01`);
  return m;
}

/**
 * Starts the simulated NIC when any spec names it. `wire` is "tester" (its testers send at `rate` Mpps into every
 * port), "loop", or a comma-separated list of Linux interfaces, one per port.
 */
async function simFor(specs: string[], rate: number, wire: string): Promise<SimNic | null> {
  const parsed = specs.map(parseDeviceSpec);
  if (!parsed.some((s) => s.kind === 'sim')) return null;
  if (wire === 'tester' || wire === 'loop') {
    const nic = await SimNic.start({ ports: 2, wire });
    if (wire === 'tester') for (let p = 0; p < nic.ports; p++) nic.setGenerator(p, rate);
    return nic;
  }
  const ifaces = wire.split(',');
  if (ifaces.some((i) => !/^[A-Za-z0-9_.@-]{1,15}$/.test(i))) {
    throw new UsageError(`--sim-wire '${wire}' is not "tester", "loop" or a list of interface names like veth0,veth1`);
  }
  return SimNic.start({ ports: ifaces.length, wire: 'linux', linuxInterfaces: ifaces });
}

/** A stack app on a `sim:` port needs the model's wires on Linux interfaces: that is where its peers are. */
async function simForStack(dev: unknown, wire: unknown): Promise<SimNic | null> {
  if (typeof dev !== 'string' || !dev.startsWith('sim:')) return null;
  if (typeof wire !== 'string' || wire === 'tester' || wire === 'loop') {
    throw new UsageError(`--dev ${dev} needs --sim-wire IF0,IF1: the Linux interfaces its simulated ports are cabled to, where the stack's peers are`);
  }
  return simFor([dev], 0, wire);
}

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (cmd === undefined || cmd === '--help' || cmd === '-h' || cmd === 'help') { console.log(mainHelp()); return cmd === undefined ? 2 : 0; }
  if (cmd === '--version') { console.log('ixy.ts 0.1.0'); return 0; }
  if (!(cmd in COMMANDS)) throw new UsageError(`unknown command '${cmd}': use one of ${Object.keys(COMMANDS).join(', ')} (see ixy --help)`);
  const { pos, v } = parseCommand(cmd, rest);
  const common = { batch: v.batch as number, ringSize: v['ring-size'] as number, poolSize: v['pool-size'] as number };
  switch (cmd) {
    case 'demo': {
      const verdict = await runDemo({ seconds: v.seconds as number, warmup: v.warmup as number, rateMpps: v.rate as number, json: v.json === true, pin: v['no-pin'] !== true, ...common });
      return verdict.ok ? 0 : 1;
    }
    case 'echo': case 'pingpong': case 'nc': case 'http': {
      const nic = await simForStack(v.dev, v['sim-wire']);
      try {
        return await (cmd === 'echo' ? runEcho(pos[0], v) : cmd === 'pingpong' ? runPingpong(pos[0], v) : cmd === 'http' ? runHttp(v) : runNetcat(v));
      } finally { await nic?.stop(); }
    }
    case 'kv': {
      const nic = await simForStack(v.dev, v['sim-wire']);
      try { return await runKv(v); } finally { await nic?.stop(); }
    }
    case 'devices': {
      const proc = v.procfs as string;
      const r = devicesReport(v.sysfs as string, { routePath: `${proc}/net/route`, ipv6RoutePath: `${proc}/net/ipv6_route` });
      if (v.json) console.log(JSON.stringify(r)); else printDevices(r, console.log);
      return 0;
    }
    case 'fwd': {
      checkDistinctDevices(pos);
      const nic = await simFor(pos, v['sim-rate'] as number, v['sim-wire'] as string);
      try {
        printL2Summary(await runL2('fwd', pos, {}, v), v, 'forwarded');
        return 0;
      } finally { await nic?.stop(); }
    }
    case 'pktgen': {
      const dst = parseMac(v.dst as string);
      const nic = await simFor(pos, 0, v['sim-wire'] as string);
      try {
        const r = await runL2('pktgen', pos, { rateMpps: v.rate as number, dst, count: v.count as number }, v);
        if (nic) await new Promise((res) => setTimeout(res, 100)); // the last frames are still crossing the model
        const sink = nic ? nic.tester(Number(parseDeviceSpec(pos[0]).arg)).streams[PKTGEN_STREAM] : null;
        printL2Summary(r, v, 'sent', { sink });
        if (sink && !v.json) console.log(`  simulated sink: received ${sink.unique}, lost ${r.work - sink.unique}, reordered ${sink.reordered}, duplicated ${sink.duplicated}`);
        return 0;
      } finally { await nic?.stop(); }
    }
    case 'pcap': {
      parseDeviceSpec(pos[0]);
      checkWritable(pos[1], 'the pcap file');
      const nic = await simFor([pos[0]], v['sim-rate'] as number, v['sim-wire'] as string);
      try {
        const r = await runL2('pcap', [pos[0]], { file: pos[1], snaplen: v.snaplen as number, count: v.count as number }, v, { promisc: v['no-promisc'] !== true });
        printL2Summary(r, v, 'captured', { file: pos[1] });
        if (!v.json) console.log(`  wrote ${pos[1]}`);
        return 0;
      } finally { await nic?.stop(); }
    }
  }
  return 2;
}

/** Users get one line per error; a message with line breaks (rare, from below) is joined. */
function oneLine(s: string): string {
  return s.split('\n').map((l) => l.trim()).filter((l) => l !== '').join(' ');
}

main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (e: Error) => {
    if (process.env.IXY_DEBUG) console.error(`ixy: ${e.stack ?? e.message}`);
    else if (e instanceof IxyError) console.error(`ixy: ${oneLine(e.message)}`);
    else console.error(`ixy: internal error: ${oneLine(String(e.message ?? e))} (IXY_DEBUG=1 shows where; please report it)`);
    process.exitCode = e instanceof UsageError ? 2 : 1;
  },
);
