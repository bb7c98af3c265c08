/**
 * `npm run vm -- [options] <command>`: boots a small QEMU guest (Debian kernel, an initramfs built here from
 * busybox-static + the host's node and its libraries), shares the project root with 9p at the same path, runs
 * <command> there as root, prints its stdout/stderr and powers off. The exit status is the command's.
 * vm/README.md says what the guest holds and why (accelerator, kernel, NICs, VFIO); `--help` below lists every option.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Exit codes of the harness itself (anything else is the guest command's status). */
export const EXIT_SKIP = 77; // QEMU cannot run here: one line "vm: skipped: <reason>" on stderr
export const EXIT_HARNESS = 125; // the guest died (no exit status came back) or the harness failed
export const EXIT_TIMEOUT = 124; // --timeout elapsed: the guest was killed

const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const BASE_LAYOUT_VERSION = '1'; // bump when the base initramfs layout changes
const GUEST_MODULES = ['virtio_pci', 'virtio_net', '9pnet_virtio', '9p', 'vfio-pci', 'vfio_iommu_type1', 'uio_pci_generic'];
const MARK = 'IXYVM-EXIT';

const HELP = `usage: npm run vm -- [options] <command> [args...]

Boots a QEMU guest (Debian kernel, busybox + this host's node in an initramfs), mounts the project root
at the same path over 9p, runs <command> there as root (one argument: a sh script; several: an argv),
prints its stdout and stderr and powers off. The exit status is the command's.

options (each also as an environment variable):
  --nics N            N virtio-net NICs (default 0), backed by TAP devices tap0..tapN-1 (up, no address)
                      in a host network namespace made for this run and always removed   IXY_VM_NICS
  --virtio V          legacy (disable-modern=on, device 0x1000) | modern (disable-legacy=on, 0x1041)
                      | transitional (default, both)                                   IXY_VM_VIRTIO
  --iommu             emulated Intel IOMMU (-device intel-iommu, iommu_platform=on on the NICs,
                      guest intel_iommu=on) for the VFIO path                          IXY_VM_IOMMU=1
  --accel A           auto (default: KVM if a probe boot under KVM works here, cached; else TCG)
                      | kvm | tcg                                                      IXY_VM_ACCEL
  --mem MiB           guest memory (default 1024)                                      IXY_VM_MEM
  --smp N             guest CPUs (default 2)                                           IXY_VM_SMP
  --hugepages N       2 MiB hugepages reserved at boot (default 0)                     IXY_VM_HUGEPAGES
  --rw                share the project writable (default read-only)                    IXY_VM_RW=1
  --with-dpdk         also put this host's dpdk-testpmd (package dpdk), its ldd libraries and the PMD
                      plugins librte_net_virtio.so + librte_mempool_ring.so (in DPDK's plugin folder, also
                      ${'$'}IXYVM_DPDK_PMDS) in the initramfs; skipped (exit ${EXIT_SKIP}) if it is not installed   IXY_VM_DPDK=1
  --timeout S         kill the guest after S seconds (default 300; exit ${EXIT_TIMEOUT})      IXY_VM_TIMEOUT
  --bridge            put the TAPs in one bridge br0 in the namespace (the guest's NICs see each
                      other's frames; IPv6 is off there so the host sends nothing by itself)  IXY_VM_BRIDGE=1
  --host-stats        after the guest, print the TAPs' counters (the host's view: rx = frames the guest
                      sent) as one stderr line "vm: host-stats {"tap0":{"rxPackets":…}}"  IXY_VM_HOST_STATS=1
  --peer-ns           one host namespace per NIC: once QEMU holds TAP i it is moved into ixyvm-<pid>-i
                      with address 10.77.0.(i+1)/24 (one subnet: a guest forwarder joining NIC0 and NIC1
                      makes them neighbours); IPv6 off, ethtool -K tx/tso/gso/gro off      IXY_VM_PEER_NS=1
  --host-script FILE  run "sh FILE" on the host (cwd: project root) when the guest command prints a line
                      "vm-ready" on stdout. Environment: IXY_VM_NS (QEMU's namespace), IXY_VM_NS<i>,
                      IXY_VM_TAP<i>, IXY_VM_ADDR<i> (the namespace, TAP and address of NIC i), IXY_VM_NICS,
                      IXY_VM_SHARE (a host folder the guest sees writable at $IXYVM_SHARE=/ixyshare).
                      When it ends, the harness writes its exit status to IXY_VM_SHARE/host-done (the guest
                      command may wait for that file). Its output is printed on stderr as "vm: host: <line>",
                      then "vm: host-script exit N in T s". The run fails (exit N, or ${EXIT_HARNESS} if the guest never
                      printed vm-ready) if it does not exit 0; it is killed if still running 10 s after the guest
                      ended                                                                 IXY_VM_HOST_SCRIPT
  -v, --verbose       print the QEMU command line, accelerator, timings and the kernel log  IXY_VM_VERBOSE=1
  -h, --help
environment only:
  IXY_VM_KERNEL       a vmlinuz/vmlinux to boot; its modules in IXY_VM_MODULES (default /lib/modules/<ver>)
  IXY_VM_CACHE        cache folder (default /var/cache/ixy-vm as root, else ~/.cache/ixy-vm)

In the guest: NICs stay bound to virtio-pci (loaded for 9p), no virtio_net; modules for virtio_net, vfio-pci,
uio_pci_generic are there for modprobe. The project root is at its host path, /tmp is RAM.
stdin is not passed to the guest. With -v the namespace name is printed ("vm: netns ixyvm-<pid> taps ...").
The accelerator that ran is printed on stderr as "vm: accel=tcg|kvm boot+run N.Ns".
exit status: the command's; ${EXIT_SKIP} = QEMU cannot run here (one line "vm: skipped: <reason>");
${EXIT_HARNESS} = the guest gave no exit status (crash, panic) or the harness failed; ${EXIT_TIMEOUT} = timeout.`;

export interface VmOptions {
  nics: number;
  virtio: 'legacy' | 'modern' | 'transitional';
  iommu: boolean;
  accel: 'auto' | 'kvm' | 'tcg';
  mem: number;
  smp: number;
  hugepages: number;
  rw: boolean;
  timeout: number;
  verbose: boolean;
  bridge: boolean;
  hostStats: boolean;
  peerNs: boolean;
  hostScript: string | undefined;
  withDpdk: boolean;
}

class Skip extends Error {}
class Fail extends Error {}

function envBool(name: string): boolean {
  const v = process.env[name];
  return v !== undefined && v !== '' && v !== '0' && v !== 'false';
}

function intOpt(name: string, v: string | undefined, min: number, max: number): number {
  if (v === undefined || !/^\d+$/.test(v)) throw new Fail(`${name} needs a number, got ${JSON.stringify(v)}`);
  const n = Number(v);
  if (n < min || n > max) throw new Fail(`${name} must be ${min}..${max}, got ${n}`);
  return n;
}

export function parseArgs(argv: string[]): { opts: VmOptions; command: string[]; help: boolean } {
  const e = process.env;
  const opts: VmOptions = {
    nics: intOpt('IXY_VM_NICS', e.IXY_VM_NICS ?? '0', 0, 8),
    virtio: (e.IXY_VM_VIRTIO ?? 'transitional') as VmOptions['virtio'],
    iommu: envBool('IXY_VM_IOMMU'),
    accel: (e.IXY_VM_ACCEL ?? 'auto') as VmOptions['accel'],
    mem: intOpt('IXY_VM_MEM', e.IXY_VM_MEM ?? '1024', 128, 16384),
    smp: intOpt('IXY_VM_SMP', e.IXY_VM_SMP ?? '2', 1, 16),
    hugepages: intOpt('IXY_VM_HUGEPAGES', e.IXY_VM_HUGEPAGES ?? '0', 0, 8192),
    rw: envBool('IXY_VM_RW'),
    timeout: intOpt('IXY_VM_TIMEOUT', e.IXY_VM_TIMEOUT ?? '300', 1, 86400),
    verbose: envBool('IXY_VM_VERBOSE'),
    bridge: envBool('IXY_VM_BRIDGE'),
    hostStats: envBool('IXY_VM_HOST_STATS'),
    peerNs: envBool('IXY_VM_PEER_NS'),
    hostScript: e.IXY_VM_HOST_SCRIPT || undefined,
    withDpdk: envBool('IXY_VM_DPDK'),
  };
  let help = false;
  let i = 0;
  for (; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') { i++; break; }
    if (!a.startsWith('-')) break;
    const [flag, inline] = a.includes('=') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a, undefined];
    const val = (): string => inline ?? argv[++i] ?? '';
    switch (flag) {
      case '-h': case '--help': help = true; break;
      case '-v': case '--verbose': opts.verbose = true; break;
      case '--iommu': opts.iommu = true; break;
      case '--rw': opts.rw = true; break;
      case '--bridge': opts.bridge = true; break;
      case '--host-stats': opts.hostStats = true; break;
      case '--peer-ns': opts.peerNs = true; break;
      case '--with-dpdk': opts.withDpdk = true; break;
      case '--host-script': opts.hostScript = val(); break;
      case '--nics': opts.nics = intOpt('--nics', val(), 0, 8); break;
      case '--mem': opts.mem = intOpt('--mem', val(), 128, 16384); break;
      case '--smp': opts.smp = intOpt('--smp', val(), 1, 16); break;
      case '--hugepages': opts.hugepages = intOpt('--hugepages', val(), 0, 8192); break;
      case '--timeout': opts.timeout = intOpt('--timeout', val(), 1, 86400); break;
      case '--virtio': opts.virtio = val() as VmOptions['virtio']; break;
      case '--accel': opts.accel = val() as VmOptions['accel']; break;
      default: throw new Fail(`unknown option ${a} (see --help)`);
    }
  }
  if (!['legacy', 'modern', 'transitional'].includes(opts.virtio)) throw new Fail(`--virtio must be legacy, modern or transitional, got ${opts.virtio}`);
  if (!['auto', 'kvm', 'tcg'].includes(opts.accel)) throw new Fail(`--accel must be auto, kvm or tcg, got ${opts.accel}`);
  if (opts.peerNs && opts.bridge) throw new Fail('--peer-ns and --bridge exclude each other');
  if (opts.peerNs && opts.nics === 0) throw new Fail('--peer-ns needs --nics N');
  if (opts.hostScript !== undefined) {
    if (!opts.hostScript) throw new Fail('--host-script needs a file');
    if (!fs.existsSync(opts.hostScript)) throw new Fail(`--host-script ${opts.hostScript}: no such file`);
    opts.hostScript = path.resolve(opts.hostScript);
  }
  return { opts, command: argv.slice(i), help };
}

/** POSIX sh single-quoting. */
export function shQuote(s: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

function run(cmd: string, args: string[], what: string, opts: { input?: Buffer; cwd?: string } = {}): Buffer {
  const r = spawnSync(cmd, args, { cwd: opts.cwd, input: opts.input, maxBuffer: 1 << 30, stdio: ['pipe', 'pipe', 'pipe'] });
  if (r.error) throw new Fail(`${what}: ${r.error.message}`);
  if (r.status !== 0) throw new Fail(`${what}: ${cmd} exited ${r.status}: ${r.stderr.toString().trim().split('\n').pop() ?? ''}`);
  return r.stdout;
}

function which(cmd: string): string | undefined {
  for (const dir of (process.env.PATH ?? '/usr/bin:/bin').split(':')) {
    const p = path.join(dir || '.', cmd);
    try { fs.accessSync(p, fs.constants.X_OK); return p; } catch { /* next */ }
  }
  return undefined;
}

function cacheDir(): string {
  const dir = process.env.IXY_VM_CACHE ?? (process.getuid?.() === 0 ? '/var/cache/ixy-vm' : path.join(os.homedir(), '.cache', 'ixy-vm'));
  fs.mkdirSync(dir, { recursive: true });
  return dir;
}

/** Writes atomically (tmp + rename) so that concurrent runs never see half a cache file. */
function atomicWrite(file: string, data: Buffer | string): void {
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, data);
  fs.renameSync(tmp, file);
}

interface Kernel { version: string; image: string; modRoot: string } // modRoot/lib/modules/<version>

/** IXY_VM_KERNEL, else a /boot/vmlinuz-* with its modules, else Debian's linux-image-amd64 kernel fetched with apt-get download. */
function findKernel(cache: string): Kernel {
  const given = process.env.IXY_VM_KERNEL;
  if (given) {
    const version = process.env.IXY_VM_KERNEL_VERSION ?? path.basename(given).replace(/^vmlinu[xz]-/, '');
    const mods = process.env.IXY_VM_MODULES ?? `/lib/modules/${version}`;
    return { version, image: given, modRoot: path.resolve(mods, '..', '..', '..') };
  }
  const boot = fs.existsSync('/boot') ? fs.readdirSync('/boot').filter((f) => f.startsWith('vmlinuz-')).sort().reverse() : [];
  for (const f of boot) {
    const version = f.slice('vmlinuz-'.length);
    if (fs.existsSync(`/lib/modules/${version}/kernel/fs/9p`)) return { version, image: `/boot/${f}`, modRoot: '/' };
  }
  // Already fetched (newest first): no apt-cache call per run. Delete the cache folder to pick up a newer kernel.
  const cached = fs.readdirSync(cache).filter((f) => f.startsWith('kernel-') && fs.existsSync(path.join(cache, f, '.complete')))
    .sort((a, b) => b.localeCompare(a, 'en', { numeric: true }));
  if (cached[0]) {
    const version = cached[0].slice('kernel-'.length);
    return { version, image: path.join(cache, cached[0], 'boot', `vmlinuz-${version}`), modRoot: path.join(cache, cached[0]) };
  }
  if (!which('apt-cache') || !which('dpkg-deb')) throw new Skip('no Debian kernel: no /boot/vmlinuz-* with modules and no apt to fetch linux-image-amd64');
  const dep = spawnSync('apt-cache', ['depends', 'linux-image-amd64'], { encoding: 'utf8' });
  const pkg = /Depends:\s*(linux-image-\S+-amd64)/.exec(dep.stdout ?? '')?.[1];
  if (!pkg) throw new Skip('no Debian kernel: apt-cache knows no linux-image-amd64 (run apt-get update)');
  const version = pkg.replace(/^linux-image-/, '');
  const root = path.join(cache, `kernel-${version}`);
  if (!fs.existsSync(path.join(root, '.complete'))) {
    const debDir = fs.mkdtempSync(path.join(cache, 'deb-'));
    try {
      const dl = spawnSync('apt-get', ['download', pkg], { cwd: debDir, encoding: 'utf8' });
      const deb = fs.readdirSync(debDir).find((f) => f.endsWith('.deb'));
      if (!deb) throw new Skip(`no Debian kernel: apt-get download ${pkg} failed: ${(dl.stderr ?? '').trim().split('\n').pop()}`);
      fs.rmSync(root, { recursive: true, force: true });
      run('dpkg-deb', ['-x', path.join(debDir, deb), root], 'unpacking the kernel');
      run('depmod', ['-b', root, version], 'depmod (package kmod)');
      fs.writeFileSync(path.join(root, '.complete'), pkg);
    } finally {
      fs.rmSync(debDir, { recursive: true, force: true });
    }
  }
  return { version, image: path.join(root, 'boot', `vmlinuz-${version}`), modRoot: root };
}

/** The uncompressed ELF vmlinux (PVH entry: boots ~3 s faster under TCG than the bzImage), or the bzImage if it cannot be had. */
function vmlinuxOf(k: Kernel, cache: string): string {
  const img = fs.readFileSync(k.image);
  if (img.readUInt32BE(0) === 0x7f454c46) return k.image; // already ELF
  const key = createHash('sha256').update(img).digest('hex').slice(0, 16);
  const out = path.join(cache, `vmlinux-${k.version}-${key}`);
  if (fs.existsSync(out)) return out;
  const xz = img.indexOf(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]));
  if (xz >= 0 && which('xz')) {
    const r = spawnSync('xz', ['-dc', '--single-stream'], { input: img.subarray(xz), maxBuffer: 1 << 30 });
    if (r.stdout && r.stdout.length > 4 && r.stdout.readUInt32BE(0) === 0x7f454c46) {
      atomicWrite(out, r.stdout);
      return out;
    }
  }
  return k.image;
}

function lddLibs(bin: string): string[] {
  const out = run('ldd', [bin], `ldd ${bin}`).toString();
  const libs: string[] = [];
  for (const line of out.split('\n')) {
    const m = /=>\s*(\/\S+)/.exec(line) ?? /^\s*(\/\S+)\s+\(/.exec(line);
    if (m) libs.push(m[1]!);
  }
  return libs;
}

function copyInto(stage: string, src: string, dest = src): void {
  const to = path.join(stage, dest);
  fs.mkdirSync(path.dirname(to), { recursive: true });
  fs.copyFileSync(fs.realpathSync(src), to);
  fs.chmodSync(to, fs.statSync(fs.realpathSync(src)).mode & 0o7777);
}

/** Module closure from modules.dep. */
function moduleClosure(modDir: string, wanted: string[]): string[] {
  const dep = new Map<string, string[]>();
  for (const line of fs.readFileSync(path.join(modDir, 'modules.dep'), 'utf8').split('\n')) {
    const [m, rest] = line.split(':');
    if (m && rest !== undefined) dep.set(m, rest.trim().split(/\s+/).filter(Boolean));
  }
  const byName = new Map<string, string>();
  for (const m of dep.keys()) byName.set(path.basename(m).replace(/\.ko(\.\w+)?$/, '').replace(/-/g, '_'), m);
  const seen = new Set<string>();
  const visit = (m: string): void => {
    if (seen.has(m)) return;
    seen.add(m);
    for (const d of dep.get(m) ?? []) visit(d);
  };
  for (const w of wanted) {
    const m = byName.get(w.replace(/-/g, '_'));
    if (m) visit(m); // a module built into this kernel is simply not in the list
  }
  return [...seen];
}

/** The cached base initramfs: busybox, node + libraries, the kernel modules, /etc. Rebuilt when an input changes. */
function baseInitramfs(k: Kernel, cache: string): string {
  const busybox = ['/bin/busybox', '/usr/bin/busybox'].find((p) => fs.existsSync(p));
  if (!busybox) throw new Skip('busybox-static is not installed (apt-get install busybox-static)');
  if (spawnSync('ldd', [busybox], { encoding: 'utf8' }).stdout?.includes('=>')) throw new Skip(`${busybox} is not static (apt-get install busybox-static)`);
  if (!which('cpio')) throw new Skip('cpio is not installed (apt-get install cpio)');
  const node = fs.realpathSync(process.execPath);
  const stat = (p: string): string => { const s = fs.statSync(p); return `${p}:${s.size}:${s.mtimeMs}`; };
  const key = createHash('sha256').update([BASE_LAYOUT_VERSION, k.version, k.modRoot, stat(node), stat(busybox), GUEST_MODULES.join()].join('\n')).digest('hex').slice(0, 16);
  const out = path.join(cache, `base-${key}.cpio`);
  if (fs.existsSync(out)) return out;
  const stage = fs.mkdtempSync(path.join(cache, 'stage-'));
  try {
    for (const d of ['bin', 'sbin', 'usr/bin', 'usr/sbin', 'proc', 'sys', 'dev', 'tmp', 'root', 'etc', 'mnt', 'run']) fs.mkdirSync(path.join(stage, d), { recursive: true });
    fs.chmodSync(path.join(stage, 'tmp'), 0o1777);
    copyInto(stage, busybox, '/bin/busybox');
    const applets = run(busybox, ['--list-full'], 'busybox --list-full').toString().split('\n').filter(Boolean);
    for (const a of applets) {
      const p = path.join(stage, a);
      if (a === 'bin/busybox' || fs.existsSync(p)) continue;
      fs.mkdirSync(path.dirname(p), { recursive: true });
      fs.symlinkSync('/bin/busybox', p);
    }
    copyInto(stage, node, '/usr/bin/node');
    for (const lib of lddLibs(node)) {
      copyInto(stage, lib);
      if (fs.realpathSync(lib) !== lib) copyInto(stage, lib, fs.realpathSync(lib));
    }
    const modDir = path.join(k.modRoot, 'lib', 'modules', k.version);
    if (!fs.existsSync(path.join(modDir, 'modules.dep'))) run('depmod', ['-b', k.modRoot, k.version], 'depmod (package kmod)');
    const gModDir = path.join(stage, 'lib', 'modules', k.version);
    for (const m of moduleClosure(modDir, GUEST_MODULES)) copyInto(stage, path.join(modDir, m), path.join('/lib/modules', k.version, m));
    for (const f of ['modules.builtin', 'modules.order', 'modules.builtin.modinfo']) {
      if (fs.existsSync(path.join(modDir, f))) copyInto(stage, path.join(modDir, f), path.join('/lib/modules', k.version, f));
    }
    fs.mkdirSync(gModDir, { recursive: true });
    run('depmod', ['-b', stage, k.version], 'depmod on the guest modules');
    fs.writeFileSync(path.join(stage, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\n');
    fs.writeFileSync(path.join(stage, 'etc/group'), 'root:x:0:\n');
    fs.writeFileSync(path.join(stage, 'etc/hostname'), 'ixyvm\n');
    const list = run('find', ['.', '-mindepth', '1'], 'find', { cwd: stage });
    const cpio = run('cpio', ['-o', '-H', 'newc', '--quiet', '-R', '0:0'], 'cpio', { cwd: stage, input: list });
    atomicWrite(out, cpio);
    return out;
  } finally {
    fs.rmSync(stage, { recursive: true, force: true });
  }
}

export const DPDK_TESTPMD = '/usr/bin/dpdk-testpmd';
/** The PMD plugins --with-dpdk adds (librte_bus_pci is a library testpmd links against). */
const DPDK_PMDS = ['librte_net_virtio.so', 'librte_mempool_ring.so'];

/** Debian's DPDK plugin folder (RTE_EAL_PMD_PATH: EAL loads every plugin in it), from librte_eal's strings. */
function dpdkPmdDir(): string {
  const eal = lddLibs(DPDK_TESTPMD).find((l) => /\/librte_eal\.so/.test(l));
  if (eal) {
    const m = /\/usr\/lib\/[\w-]+\/dpdk\/pmds-[\d.]+/.exec(fs.readFileSync(eal).toString('latin1'));
    if (m && fs.existsSync(m[0])) return m[0];
  }
  const base = '/usr/lib/x86_64-linux-gnu/dpdk';
  const d = fs.existsSync(base) ? fs.readdirSync(base).filter((f) => f.startsWith('pmds-')).sort().pop() : undefined;
  if (!d) throw new Skip('--with-dpdk: no DPDK plugin folder (apt-get install dpdk)');
  return path.join(base, d);
}

/** --with-dpdk: a cached archive with dpdk-testpmd, its libraries and the virtio PMD plugins (appended to the base). */
function dpdkInitramfs(cache: string): string {
  if (!fs.existsSync(DPDK_TESTPMD)) throw new Skip(`--with-dpdk: ${DPDK_TESTPMD} is not installed (apt-get install dpdk)`);
  const pmdDir = dpdkPmdDir();
  const pmds = DPDK_PMDS.map((p) => path.join(pmdDir, p));
  for (const p of pmds) if (!fs.existsSync(p)) throw new Skip(`--with-dpdk: no ${p}`);
  const files = [DPDK_TESTPMD, ...pmds];
  const libs = [...new Set(files.flatMap((f) => lddLibs(f)))];
  const stat = (p: string): string => { const s = fs.statSync(p); return `${p}:${s.size}:${s.mtimeMs}`; };
  const key = createHash('sha256').update(['dpdk-layout-3', ...[...files, ...libs].map(stat)].join('\n')).digest('hex').slice(0, 16);
  const out = path.join(cache, `dpdk-${key}.cpio`);
  if (fs.existsSync(out)) return out;
  const stage = fs.mkdtempSync(path.join(cache, 'stage-'));
  try {
    // The host's links kept as links (to the real file): EAL loads every plugin-folder file (*.so, *.so.<abi>), and
    // glibc sees a library testpmd links against (e.g. librte_bus_pci, whose real file is in that folder) as the same
    // file only if it is the same inode; two copies would be loaded twice (EAL panics: tailq already registered).
    const have = new Set(lddLibs(fs.realpathSync(process.execPath))); // already in the base archive
    for (const f of [...files, ...libs.filter((l) => !have.has(l))]) {
      const real = fs.realpathSync(f);
      copyInto(stage, real);
      if (real !== f && !fs.existsSync(path.join(stage, f))) {
        fs.mkdirSync(path.dirname(path.join(stage, f)), { recursive: true });
        fs.symlinkSync(real, path.join(stage, f));
      }
    }
    fs.mkdirSync(path.join(stage, 'etc'), { recursive: true });
    fs.mkdirSync(path.join(stage, 'var/run'), { recursive: true }); // EAL's runtime folder is /var/run/dpdk
    fs.writeFileSync(path.join(stage, 'etc/ixyvm-dpdk'), `IXYVM_DPDK_PMDS='${pmds.join(' ')}'\n`);
    // "." too: the unpacker chmods / to 0755 (EAL refuses plugins under a world-writable folder; rootfs is 0777)
    fs.chmodSync(stage, 0o755);
    const list = run('find', ['.'], 'find', { cwd: stage });
    atomicWrite(out, run('cpio', ['-o', '-H', 'newc', '--quiet', '-R', '0:0'], 'cpio', { cwd: stage, input: list }));
    return out;
  } finally {
    fs.rmSync(stage, { recursive: true, force: true });
  }
}

/** A minimal newc cpio writer for the per-run files (appended to the base archive: the kernel reads both). */
export function cpioNewc(files: { name: string; data: string | Buffer; mode: number }[]): Buffer {
  const parts: Buffer[] = [];
  let ino = 1;
  const pad4 = (n: number): Buffer => Buffer.alloc((4 - (n % 4)) % 4);
  const entry = (name: string, data: Buffer, mode: number): void => {
    const hex = (n: number): string => n.toString(16).padStart(8, '0');
    const nameZ = Buffer.from(name + '\0');
    const hdr = Buffer.from('070701' + [ino++, mode, 0, 0, 1, 0, data.length, 0, 0, 0, 0, nameZ.length, 0].map(hex).join(''), 'ascii');
    parts.push(hdr, nameZ, pad4(hdr.length + nameZ.length), data, pad4(data.length));
  };
  for (const f of files) entry(f.name, Buffer.isBuffer(f.data) ? f.data : Buffer.from(f.data), f.mode);
  entry('TRAILER!!!', Buffer.alloc(0), 0);
  return Buffer.concat(parts);
}

function initScript(): string {
  return `#!/bin/sh
export PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root TERM=dumb
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/hugepages /dev/shm /dev/pts
mount -t hugetlbfs hugetlbfs /dev/hugepages
mount -t tmpfs tmpfs /dev/shm
mount -t tmpfs tmpfs /tmp
hostname ixyvm
ip link set lo up
. /ixyvm/env
stty -F /dev/ttyS0 raw -echo 2>/dev/null
stty -F /dev/ttyS1 raw -echo 2>/dev/null
rc=${EXIT_HARNESS}
if modprobe virtio_pci && modprobe 9pnet_virtio && modprobe 9p && mkdir -p "$IXYVM_ROOT" &&
   mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000,$IXYVM_MOUNT ixyproj "$IXYVM_ROOT"; then
  if [ -n "$IXYVM_SHARE" ]; then mkdir -p "$IXYVM_SHARE" && mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000,rw ixyshare "$IXYVM_SHARE" ||
    echo "vm: could not mount the host share at $IXYVM_SHARE" >/dev/ttyS1; fi
  cd "$IXYVM_ROOT" && { sh /ixyvm/cmd </dev/null >/dev/ttyS0 2>/dev/ttyS1; rc=$?; }
else
  echo "vm: guest setup failed (modules or 9p mount)" >/dev/ttyS1
fi
echo "${MARK} $rc"
poweroff -f
`;
}

/** The cached base archive with this run's /init, /ixyvm/env and /ixyvm/cmd appended. */
function makeInitrd(base: string, file: string, env: string, script: string, extra: string[] = []): string {
  fs.copyFileSync(base, file);
  for (const x of extra) fs.appendFileSync(file, fs.readFileSync(x));
  fs.appendFileSync(file, cpioNewc([
    { name: 'init', data: initScript(), mode: 0o100755 },
    { name: 'ixyvm', data: '', mode: 0o40755 },
    { name: 'ixyvm/env', data: env, mode: 0o100644 },
    { name: 'ixyvm/cmd', data: script + '\n', mode: 0o100644 },
  ]));
  return file;
}

/** QEMU's namespace `name` holding its TAPs; with --peer-ns TAP i is moved into peers[i] once QEMU holds it. */
interface Netns { name: string; taps: string[]; peers: string[]; moved: boolean }

export const PEER_SUBNET = '10.77.0';
const peerAddr = (i: number): string => `${PEER_SUBNET}.${i + 1}`;
/** Where TAP i is now. */
const tapNs = (ns: Netns, i: number): string => (ns.moved ? ns.peers[i]! : ns.name);

function ip(args: string[]): void { run('ip', args, `ip ${args.join(' ')}`); }

/** Removes namespaces left by runs that were killed (SIGKILL skips cleanup). */
function reapStaleNetns(): void {
  const r = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' });
  for (const line of (r.stdout ?? '').split('\n')) {
    const m = /^(ixyvm-(\d+)(?:-\d+)?)(?:\s|$)/.exec(line);
    if (!m) continue;
    let alive = true;
    try { process.kill(Number(m[2]), 0); } catch { alive = false; }
    if (!alive) spawnSync('ip', ['netns', 'del', m[1]!]);
  }
}

function createNetns(nics: number, bridge: boolean, peerNs: boolean): Netns {
  if (process.getuid?.() !== 0) throw new Skip('--nics needs root (network namespace and TAP devices)');
  if (!which('ip')) throw new Skip('--nics needs ip (apt-get install iproute2)');
  if (!fs.existsSync('/dev/net/tun')) throw new Skip('--nics needs /dev/net/tun');
  reapStaleNetns();
  const ns: Netns = { name: `ixyvm-${process.pid}`, taps: [], peers: [], moved: false };
  ip(['netns', 'add', ns.name]);
  try {
    ip(['-n', ns.name, 'link', 'set', 'lo', 'up']);
    for (let i = 0; i < nics; i++) {
      const tap = `tap${i}`;
      ip(['-n', ns.name, 'tuntap', 'add', 'dev', tap, 'mode', 'tap']);
      ip(['-n', ns.name, 'link', 'set', tap, 'up']);
      ns.taps.push(tap);
    }
    if (bridge) {
      // no router solicitations, MLD or DAD frames from the host side: only what the guest sends crosses the bridge
      spawnSync('ip', ['netns', 'exec', ns.name, 'sysctl', '-qw', 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1']);
      ip(['-n', ns.name, 'link', 'add', 'br0', 'type', 'bridge', 'stp_state', '0', 'forward_delay', '0']);
      for (const tap of ns.taps) ip(['-n', ns.name, 'link', 'set', tap, 'master', 'br0']);
      ip(['-n', ns.name, 'link', 'set', 'br0', 'up']);
    }
    if (peerNs) {
      for (let i = 0; i < nics; i++) {
        const p = `${ns.name}-${i}`;
        ip(['netns', 'add', p]);
        ns.peers.push(p);
        // before the TAP arrives: no IPv6 on it (no RS, MLD, DAD frames from the host's side)
        spawnSync('ip', ['netns', 'exec', p, 'sysctl', '-qw', 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1']);
        ip(['-n', p, 'link', 'set', 'lo', 'up']);
      }
    }
  } catch (e) {
    removeNetns(ns);
    throw e;
  }
  return ns;
}

/**
 * --peer-ns: a TAP can only be opened by name in the opener's namespace, so QEMU opens them all in ns.name; once it
 * holds them (carrier on) each moves into its own namespace, keeping QEMU's fd, and gets its address there.
 */
async function movePeers(ns: Netns, child: ChildProcess, verbose: boolean): Promise<void> {
  const t0 = performance.now();
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Fail('QEMU ended before it opened its TAPs');
    const links = JSON.parse(run('ip', ['-n', ns.name, '-j', 'link', 'show'], 'ip -j link show').toString()) as { ifname: string; flags: string[] }[];
    const held = ns.taps.every((t) => links.some((l) => l.ifname === t && !l.flags.includes('NO-CARRIER')));
    if (held) break;
    if (performance.now() - t0 > 60_000) throw new Fail('QEMU did not open its TAPs within 60 s');
    await new Promise((r) => setTimeout(r, 50));
  }
  for (let i = 0; i < ns.taps.length; i++) {
    const tap = ns.taps[i]!;
    const p = ns.peers[i]!;
    ip(['-n', ns.name, 'link', 'set', tap, 'netns', p]);
  }
  ns.moved = true;
  for (let i = 0; i < ns.taps.length; i++) {
    const tap = ns.taps[i]!;
    const p = ns.peers[i]!;
    const k = spawnSync('ip', ['netns', 'exec', p, 'ethtool', '-K', tap, 'tx', 'off', 'tso', 'off', 'gso', 'off', 'gro', 'off'], { encoding: 'utf8' });
    if (k.status !== 0 && verbose) process.stderr.write(`vm: ethtool -K ${tap} in ${p}: ${(k.error?.message ?? k.stderr ?? '').trim()}\n`);
    ip(['-n', p, 'addr', 'add', `${peerAddr(i)}/24`, 'dev', tap]);
    ip(['-n', p, 'link', 'set', tap, 'up']);
  }
  if (verbose) process.stderr.write(`vm: peer namespaces ${ns.peers.map((p, i) => `${p}(${ns.taps[i]} ${peerAddr(i)}/24)`).join(' ')} after ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
}

export interface TapStats { rxPackets: number; rxBytes: number; txPackets: number; txBytes: number; rxDropped: number; txDropped: number }

/** The TAPs' counters from the host side (`ip -s -j link`): rx = frames QEMU wrote, i.e. what the guest sent. */
function tapStats(ns: Netns): Record<string, TapStats> {
  const out: Record<string, TapStats> = {};
  const names = [...new Set(ns.taps.map((_, i) => tapNs(ns, i)))];
  const links = names.flatMap((n) => JSON.parse(run('ip', ['-n', n, '-s', '-j', 'link', 'show'], 'ip -s -j link show').toString()) as
    { ifname: string; stats64?: { rx: Record<string, number>; tx: Record<string, number> } }[]);
  for (const l of links) {
    if (!ns.taps.includes(l.ifname) || !l.stats64) continue;
    const { rx, tx } = l.stats64;
    out[l.ifname] = { rxPackets: rx.packets ?? 0, rxBytes: rx.bytes ?? 0, txPackets: tx.packets ?? 0, txBytes: tx.bytes ?? 0, rxDropped: rx.dropped ?? 0, txDropped: tx.dropped ?? 0 };
  }
  return out;
}

function removeNetns(ns: Netns | undefined): void {
  if (!ns) return;
  for (let i = 0; i < ns.peers.length; i++) {
    // delete the TAP first: a device left in a namespace being deleted may be moved back to the root namespace
    if (ns.moved) spawnSync('ip', ['-n', ns.peers[i]!, 'link', 'del', ns.taps[i]!], { stdio: 'ignore' });
    spawnSync('ip', ['netns', 'del', ns.peers[i]!], { stdio: 'ignore' });
  }
  spawnSync('ip', ['netns', 'del', ns.name], { stdio: 'ignore' });
}

function qemuArgs(o: VmOptions, accel: 'kvm' | 'tcg', kernel: string, initrd: string, log: string, errSock: string, ns: Netns | undefined, share: string | undefined): string[] {
  const append = ['console=ttyS2', 'quiet', 'panic=-1', 'rdinit=/init', 'tsc=reliable', 'no_timer_check'];
  if (o.iommu) append.push('intel_iommu=on');
  if (o.hugepages > 0) append.push(`hugepages=${o.hugepages}`);
  const a = ['-nodefaults', '-no-user-config', '-display', 'none', '-no-reboot',
    '-M', o.iommu ? 'q35,kernel-irqchip=split' : 'q35',
    '-accel', accel, '-cpu', accel === 'kvm' ? 'host,-arch-capabilities' : 'max',
    '-smp', String(o.smp), '-m', String(o.mem),
    '-kernel', kernel, '-initrd', initrd, '-append', append.join(' '),
    // ttyS0 = the command's stdout on QEMU's stdout; ttyS1 = its stderr through a unix socket that this process
    // listens on (Node's stdio pipes are socketpairs, which QEMU cannot reopen by /proc/self/fd); ttyS2 = kernel log.
    '-chardev', 'stdio,id=out,signal=off', '-serial', 'chardev:out',
    '-chardev', `socket,id=err,path=${errSock}`, '-serial', 'chardev:err', '-serial', `file:${log}`,
    '-virtfs', `local,path=${PROJECT_ROOT},mount_tag=ixyproj,security_model=none${o.rw ? '' : ',readonly=on'}`];
  if (share) a.push('-virtfs', `local,path=${share},mount_tag=ixyshare,security_model=none`);
  if (o.iommu) a.push('-device', 'intel-iommu,intremap=on,device-iotlb=on');
  for (let i = 0; i < (ns?.taps.length ?? 0); i++) {
    const mac = `52:54:00:12:34:${(0x56 + i).toString(16)}`;
    let dev = `virtio-net-pci,netdev=n${i},mac=${mac}`;
    if (o.virtio === 'legacy') dev += ',disable-modern=on';
    if (o.virtio === 'modern') dev += ',disable-legacy=on';
    if (o.iommu) dev += ',iommu_platform=on,ats=on';
    a.push('-netdev', `tap,id=n${i},ifname=${ns!.taps[i]},script=no,downscript=no`, '-device', dev);
  }
  return a;
}

interface BootResult { status: number | undefined; timedOut: boolean; qemuCode: number | null; qemuErr: string; log: string; ms: number }

let current: ChildProcess | undefined;

interface BootHooks {
  share?: string; // a host folder shared writable as mount_tag ixyshare
  /** Called once QEMU is spawned; an error kills the guest and is the run's error. */
  started?: (child: ChildProcess) => Promise<void>;
  /** Each line the guest command prints on stdout. */
  line?: (line: string) => void;
}

async function boot(o: VmOptions, accel: 'kvm' | 'tcg', kernel: string, initrd: string, ns: Netns | undefined, tmp: string,
  timeoutS: number, echo: boolean, hooks: BootHooks = {}): Promise<BootResult> {
  const log = path.join(tmp, `console-${accel}.log`);
  const errSock = path.join(tmp, `stderr-${accel}.sock`);
  let errDone: Promise<void> = Promise.resolve();
  const server = net.createServer((sock) => {
    errDone = new Promise((resolve) => { sock.on('end', resolve); sock.on('error', () => resolve()); sock.on('close', () => resolve()); });
    sock.on('data', (b: Buffer) => { if (echo) process.stderr.write(b); });
  });
  await new Promise<void>((resolve, reject) => { server.once('error', reject); server.listen(errSock, resolve); });
  const args = qemuArgs(o, accel, kernel, initrd, log, errSock, ns, hooks.share);
  let argv = ns ? ['netns', 'exec', ns.name, 'qemu-system-x86_64', ...args] : args;
  let cmd = ns ? 'ip' : 'qemu-system-x86_64';
  // QEMU dies with this process even on SIGKILL (then the namespace is reaped by the next run).
  if (which('setpriv')) { argv = ['--pdeathsig', 'KILL', cmd, ...argv]; cmd = 'setpriv'; }
  if (o.verbose && echo) process.stderr.write(`vm: ${cmd} ${argv.map(shQuote).join(' ')}\n`);
  const t0 = performance.now();
  const child = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
  current = child;
  let qemuErr = '';
  let partial = '';
  child.stdout!.on('data', (b: Buffer) => {
    if (echo) process.stdout.write(b);
    if (!hooks.line) return;
    const lines = (partial + b.toString()).split('\n');
    partial = lines.pop()!;
    for (const l of lines) hooks.line(l.replace(/\r$/, ''));
  });
  child.stderr!.on('data', (b: Buffer) => { qemuErr += b.toString(); });
  let timedOut = false;
  const timer = setTimeout(() => { timedOut = true; child.kill('SIGKILL'); }, timeoutS * 1000);
  const closed = new Promise<number | null>((resolve) => {
    child.on('error', (e) => { qemuErr += e.message; resolve(-1); });
    child.on('close', (c) => resolve(c)); // after stdout ended: all of it is printed
  });
  let hookError: unknown;
  if (hooks.started) {
    await hooks.started(child).catch((e: unknown) => { hookError = e; child.kill('SIGKILL'); });
  }
  const code = await closed;
  await errDone;
  server.close();
  clearTimeout(timer);
  current = undefined;
  const ms = performance.now() - t0;
  if (hookError) throw hookError;
  const text = fs.existsSync(log) ? fs.readFileSync(log, 'utf8') : '';
  const m = new RegExp(`${MARK} (\\d+)`).exec(text);
  return { status: m ? Number(m[1]) : undefined, timedOut, qemuCode: code, qemuErr: qemuErr.trim(), log: text, ms };
}

/** KVM only where a stock kernel really boots under it (on a nested "PVM" KVM it hangs): probe once, cache per host kernel. */
async function chooseAccel(o: VmOptions, cache: string, kernel: string, initrd: string, tmp: string): Promise<'kvm' | 'tcg'> {
  if (o.accel !== 'auto') return o.accel;
  try { fs.accessSync('/dev/kvm', fs.constants.R_OK | fs.constants.W_OK); } catch { return 'tcg'; }
  const file = path.join(cache, `accel-${os.release()}`);
  if (fs.existsSync(file)) return fs.readFileSync(file, 'utf8').trim() === 'kvm' ? 'kvm' : 'tcg';
  const probe = await boot({ ...o, nics: 0, iommu: false }, 'kvm', kernel, initrd, undefined, tmp, 15, false);
  const ok = probe.status === 0;
  if (o.verbose) process.stderr.write(`vm: KVM probe ${ok ? 'booted' : 'failed'} in ${(probe.ms / 1000).toFixed(1)} s: using ${ok ? 'kvm' : 'tcg'}\n`);
  atomicWrite(file, ok ? 'kvm\n' : 'tcg\n');
  return ok ? 'kvm' : 'tcg';
}

interface HostScript { child: ChildProcess; done: Promise<number>; status: number | undefined }

/** --host-script: `sh file` in its own process group, output as "vm: host: <line>" on stderr; host-done written to the share. */
function startHostScript(file: string, ns: Netns | undefined, share: string, verbose: boolean): HostScript {
  const env: NodeJS.ProcessEnv = { ...process.env, IXY_VM_NS: ns?.name ?? '', IXY_VM_NICS: String(ns?.taps.length ?? 0), IXY_VM_SHARE: share };
  for (let i = 0; i < (ns?.taps.length ?? 0); i++) {
    env[`IXY_VM_NS${i}`] = tapNs(ns!, i);
    env[`IXY_VM_TAP${i}`] = ns!.taps[i];
    env[`IXY_VM_ADDR${i}`] = ns!.moved ? peerAddr(i) : '';
  }
  const t0 = performance.now();
  if (verbose) process.stderr.write(`vm: host-script ${file} started\n`);
  const child = spawn('sh', [file], { cwd: PROJECT_ROOT, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  const hs: HostScript = { child, done: Promise.resolve(0), status: undefined };
  const prefix = (stream: NodeJS.ReadableStream): Promise<void> => new Promise((resolve) => {
    let partial = '';
    stream.on('data', (b: Buffer) => {
      const lines = (partial + b.toString()).split('\n');
      partial = lines.pop()!;
      for (const l of lines) process.stderr.write(`vm: host: ${l}\n`);
    });
    stream.on('end', () => { if (partial) process.stderr.write(`vm: host: ${partial}\n`); resolve(); });
    stream.on('error', () => resolve());
  });
  const outs = Promise.all([prefix(child.stdout!), prefix(child.stderr!)]);
  hs.done = new Promise<number>((resolve) => {
    child.on('error', (e) => { process.stderr.write(`vm: host: ${e.message}\n`); });
    child.on('exit', (code, sig) => {
      const status = code ?? 128 + (sig ? os.constants.signals[sig] : 0);
      hs.status = status;
      try { fs.writeFileSync(path.join(share, 'host-done'), `${status}\n`); } catch { /* the run is ending */ }
      // the output of processes still holding the pipes is not waited for beyond 1 s
      void Promise.race([outs, sleepUnref(1000)]).then(() => {
        process.stderr.write(`vm: host-script exit ${status}${sig ? ` (${sig})` : ''} in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
        resolve(status);
      });
    });
  });
  return hs;
}

/** A timer that does not keep the process alive. */
function sleepUnref(ms: number): Promise<undefined> {
  return new Promise((resolve) => { setTimeout(resolve, ms, undefined).unref(); });
}

function killGroup(hs: HostScript | undefined, sig: NodeJS.Signals): void {
  if (hs?.child?.pid === undefined) return;
  try { process.kill(-hs.child.pid, sig); } catch { /* gone */ }
}

export async function main(argv: string[]): Promise<number> {
  let ns: Netns | undefined;
  let tmp: string | undefined;
  let hs: HostScript | undefined;
  const cleanup = (): void => {
    if (current) { try { current.kill('SIGKILL'); } catch { /* gone */ } }
    killGroup(hs, 'SIGKILL');
    removeNetns(ns);
    ns = undefined;
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
    tmp = undefined;
  };
  const onSignal = (sig: NodeJS.Signals): void => {
    cleanup();
    process.stderr.write(`vm: ${sig}: guest killed, namespace removed\n`);
    process.exit(sig === 'SIGINT' ? 130 : 143);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('SIGHUP', onSignal);
  try {
    const { opts, command, help } = parseArgs(argv);
    if (help) { process.stdout.write(HELP + '\n'); return 0; }
    if (command.length === 0) throw new Fail('no command given (see --help)');
    if (!which('qemu-system-x86_64')) throw new Skip('qemu-system-x86_64 not found (apt-get install qemu-system-x86)');
    const t0 = performance.now();
    const cache = cacheDir();
    const k = findKernel(cache);
    const kernel = vmlinuxOf(k, cache);
    const base = baseInitramfs(k, cache);
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ixyvm-'));
    const script = command.length === 1 ? command[0]! : command.map(shQuote).join(' ');
    let env = `IXYVM_ROOT=${shQuote(PROJECT_ROOT)}\nIXYVM_MOUNT=${opts.rw ? 'rw' : 'ro'}\nexport IXYVM_NICS=${opts.nics} IXYVM_VIRTIO=${opts.virtio} IXYVM_IOMMU=${opts.iommu ? 1 : 0}\n`;
    let share: string | undefined;
    if (opts.hostScript) {
      share = path.join(tmp, 'share');
      fs.mkdirSync(share, { mode: 0o777 });
      env += 'export IXYVM_SHARE=/ixyshare\n';
    }
    const extra: string[] = [];
    if (opts.withDpdk) {
      extra.push(dpdkInitramfs(cache));
      env += '[ -f /etc/ixyvm-dpdk ] && . /etc/ixyvm-dpdk; export IXYVM_DPDK_PMDS\n';
    }
    const initrd = makeInitrd(base, path.join(tmp, 'initrd.cpio'), env, script, extra);
    const accel = await chooseAccel(opts, cache, kernel, makeInitrd(base, path.join(tmp, 'probe.cpio'), env.replace(/^export IXYVM_SHARE.*\n/m, ''), 'true'), tmp);
    const prep = performance.now() - t0;
    if (opts.nics > 0) ns = createNetns(opts.nics, opts.bridge, opts.peerNs);
    else if (opts.bridge || opts.hostStats) throw new Fail('--bridge and --host-stats need --nics N');
    if (ns && opts.verbose) process.stderr.write(`vm: netns ${ns.name} taps ${ns.taps.join(' ')}\n`);
    const peers = ns;
    let peersReady: Promise<void> = Promise.resolve();
    const hooks: BootHooks = { share };
    if (peers && opts.peerNs) {
      hooks.started = (child) => { peersReady = movePeers(peers, child, opts.verbose); return peersReady; };
    }
    if (opts.hostScript) {
      const file = opts.hostScript;
      hooks.line = (l) => {
        if (hs || l.trim() !== 'vm-ready') return;
        hs = { child: undefined as unknown as ChildProcess, done: Promise.resolve(EXIT_HARNESS), status: undefined }; // once
        void peersReady.then(() => { hs = startHostScript(file, ns, share!, opts.verbose); }, () => { /* the run fails anyway */ });
      };
    }
    const r = await boot(opts, accel, kernel, initrd, ns, tmp, opts.timeout, true, hooks);
    let scriptStatus: number | undefined;
    if (hs?.child) {
      const grace = await Promise.race([hs.done, sleepUnref(10_000)]);
      if (grace === undefined) {
        process.stderr.write('vm: host-script still running 10 s after the guest ended: killed\n');
        killGroup(hs, 'SIGTERM');
        const t = await Promise.race([hs.done, sleepUnref(2000)]);
        if (t === undefined) killGroup(hs, 'SIGKILL');
        scriptStatus = (await hs.done) || EXIT_HARNESS;
      } else scriptStatus = grace;
    }
    if (opts.verbose) process.stderr.write(`vm: kernel log:\n${r.log}`);
    if (ns && opts.hostStats) process.stderr.write(`vm: host-stats ${JSON.stringify(tapStats(ns))}\n`);
    process.stderr.write(`vm: accel=${accel} virtio=${opts.virtio} nics=${opts.nics}${opts.iommu ? ' iommu' : ''} boot+run ${(r.ms / 1000).toFixed(1)} s (prepare ${(prep / 1000).toFixed(1)} s)\n`);
    if (r.timedOut) { process.stderr.write(`vm: timeout after ${opts.timeout} s: guest killed\n`); return EXIT_TIMEOUT; }
    if (opts.hostScript && r.status === 0) {
      if (scriptStatus === undefined) { process.stderr.write('vm: host-script never ran: the guest command printed no "vm-ready" line\n'); return EXIT_HARNESS; }
      if (scriptStatus !== 0) { process.stderr.write(`vm: failing the run: host-script exit ${scriptStatus}\n`); return scriptStatus; }
    }
    if (r.status === undefined) {
      const reason = r.qemuErr.split('\n').filter(Boolean).pop() ?? '';
      if (r.qemuCode !== 0 && !r.log) {
        // QEMU did not start a guest at all (e.g. no TCG/KVM usable, missing firmware): a skip, with the reason.
        process.stderr.write(`vm: skipped: qemu-system-x86_64 cannot run here: ${reason || `exit ${r.qemuCode}`}\n`);
        return EXIT_SKIP;
      }
      process.stderr.write(`vm: the guest gave no exit status (qemu exit ${r.qemuCode}${reason ? `: ${reason}` : ''}); last kernel lines:\n${r.log.trim().split('\n').slice(-15).join('\n')}\n`);
      return EXIT_HARNESS;
    }
    return r.status;
  } catch (e) {
    if (e instanceof Skip) { process.stderr.write(`vm: skipped: ${e.message}\n`); return EXIT_SKIP; }
    process.stderr.write(`vm: error: ${e instanceof Error ? e.message : String(e)}\n`);
    return EXIT_HARNESS;
  } finally {
    cleanup();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    process.off('SIGHUP', onSignal);
  }
}

if (process.argv[1] && fs.realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).then((code) => { process.exitCode = code; }, (e) => { process.stderr.write(`vm: error: ${String(e)}\n`); process.exitCode = EXIT_HARNESS; });
}
