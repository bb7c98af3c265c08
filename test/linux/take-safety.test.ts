/**
 * What `ixy` refuses to take, asserted from real network namespaces without ever taking a real device:
 * the PCI NIC that carries the machine's default route (its interface lives in the init namespace, hidden from a
 * namespace's sysfs), judged with /sys read-only so a wrong judgement fails on the unbind instead of cutting the
 * machine off; and xdp:/packet: on the interface holding a namespace's default route (refused, taken with --force).
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { canUseNetns, Netlab } from '../../lab/netns.js';
import { CLI, SCRIPT_ENV } from '../helpers/stack-netns.js';

const SCRIPT = path.resolve('dist/test/netns-scripts/pci-open.js');
const skip = canUseNetns() ? false : 'needs root and iproute2 (network namespaces)';

/** The PCI address of the device under this namespace's default-route interface, or why there is none. */
function defaultRoutePciDevice(): { addr: string; ifname: string } | string {
  const routes = JSON.parse(execFileSync('ip', ['-json', 'route', 'show', 'default'], { encoding: 'utf8' })) as { dev?: string }[];
  const ifname = routes.find((r) => r.dev)?.dev;
  if (!ifname) return 'this machine has no default route';
  const [link] = JSON.parse(execFileSync('ip', ['-json', '-details', 'link', 'show', 'dev', ifname], { encoding: 'utf8' })) as { parentbus?: string; parentdev?: string }[];
  if (link.parentbus === 'pci' && link.parentdev) return { addr: link.parentdev, ifname };
  if (link.parentbus === 'virtio' && link.parentdev) {
    return { addr: path.basename(path.dirname(fs.realpathSync(`/sys/bus/virtio/devices/${link.parentdev}`))), ifname };
  }
  return `the default route's interface ${ifname} is not on a PCI device`;
}

/** `cmd` in `ns` with /sys remounted read-only in a mount namespace of its own (nothing can be unbound). */
const readOnlySys = (cmd: string[]) => ['unshare', '-m', 'sh', '-c', 'mount -o remount,bind,ro /sys && exec "$@"', 'sh', ...cmd];

test('from a network namespace, the machine\'s own NIC is refused: listed as not safe, and the open path refuses it', { skip }, async (t) => {
  const dev = defaultRoutePciDevice();
  if (typeof dev === 'string') { t.skip(dev); return; }
  const lab = new Netlab();
  try {
    const ns = lab.ns('pci');
    // the case that fooled sysfs: from here the device shows no interface at all
    const seen = await lab.run(ns, ['sh', '-c', `find /sys/bus/pci/devices/${dev.addr}/net /sys/bus/pci/devices/${dev.addr}/virtio*/net -mindepth 1 -maxdepth 1 2>/dev/null | grep -c . || true`]);
    assert.equal(seen.stdout.trim(), '0', `sysfs in a namespace hides ${dev.ifname}`);

    const listing = await lab.run(ns, readOnlySys(['node', CLI, 'devices', '--json']));
    assert.equal(listing.code, 0, listing.stderr);
    const entry = (JSON.parse(listing.stdout) as { pci: { address: string; safe: boolean; reason: string; interfaces: string[] }[] }).pci
      .find((d) => d.address === dev.addr);
    assert.ok(entry, `${dev.addr} is listed`);
    assert.equal(entry.safe, false, entry.reason);
    assert.deepEqual(entry.interfaces, [`${dev.ifname} (init netns)`]);
    assert.match(entry.reason, new RegExp(`^the kernel uses it as ${dev.ifname} \\(up, .*\\) in the init network namespace; it carries the default route: taking it cuts this machine off: .*pass --force$`));

    const open = await lab.run(ns, readOnlySys(['node', SCRIPT, dev.addr]), { env: SCRIPT_ENV });
    const line = open.stdout.split('\n').find((l) => l.startsWith('OPEN '));
    assert.ok(line, `${open.stdout}\n${open.stderr}`);
    const r = JSON.parse(line.slice(5)) as { opened: boolean; error?: { name: string; message: string } };
    assert.equal(r.opened, false);
    assert.equal(r.error?.name, 'IxyError');
    assert.match(r.error!.message, new RegExp(`^${dev.addr}: the kernel uses it as ${dev.ifname} \\(up, .*\\) in the init network namespace; .*cuts this machine off`));

    // without root the init namespace cannot be looked into: refused as well, saying why
    const nobody = ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', '--inh-caps=-all'];
    const blind = await lab.run(ns, [...nobody, 'node', CLI, 'devices', '--json']);
    const bl = (JSON.parse(blind.stdout) as { pci: { address: string; safe: boolean; reason: string }[] }).pci.find((d) => d.address === dev.addr);
    assert.equal(bl?.safe, false);
    assert.match(bl!.reason, /the init network namespace cannot be looked into \(it takes root: run as root\)/);
  } finally {
    await lab.cleanup();
  }
  assert.match(execFileSync('ip', ['-json', 'link', 'show', 'dev', dev.ifname], { encoding: 'utf8' }), /"operstate":"UP"/, 'the machine\'s link is untouched');
});

test('xdp: and packet: on the interface with the namespace\'s default route: refused unless --force', { skip }, async () => {
  const lab = new Netlab();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ixy-take-'));
  try {
    const nsA = lab.ns('rta');
    const nsB = lab.ns('rtb');
    const { a } = lab.veth({ ns: nsA, name: 'ra', addr: '10.77.0.2/24' }, { ns: nsB, name: 'rb', addr: '10.77.0.1/24' });
    lab.ipIn(nsA, ['route', 'add', 'default', 'via', '10.77.0.1']);
    const pcapTo = (spec: string, extra: string[] = []) => ['node', CLI, 'pcap', spec, path.join(dir, `${spec.replace(':', '-')}.pcap`), '--count', '3', ...extra];
    const refusals: [string, string[]][] = [
      [`packet:${a}`, pcapTo(`packet:${a}`)],
      [`xdp:${a}`, pcapTo(`xdp:${a}`)],
      [`xdp:${a}`, ['node', CLI, 'echo', 'server', '--dev', `xdp:${a}`, '--ip', '10.77.0.3/24', '--seconds', '1']],
      [`packet:${a}`, ['node', CLI, 'nc', '--dev', `packet:${a}`, '--ip', '10.77.0.3/24', '--listen', '9', '--seconds', '1']],
    ];
    for (const [spec, cmd] of refusals) {
      const r = await lab.run(nsA, cmd, { timeoutMs: 30000 });
      assert.equal(r.code, 1, `${cmd.join(' ')}: ${r.stdout}${r.stderr}`);
      const lines = r.stderr.trim().split('\n');
      assert.equal(lines.length, 1, r.stderr);
      assert.match(lines[0], new RegExp(`^ixy: ${spec}: ${a} carries this network namespace's default route; .*: use another interface, or pass --force$`));
      assert.match(lines[0], spec.startsWith('xdp') ? /would cut this machine off/ : /link this machine depends on/);
    }
    assert.equal(JSON.parse(lab.ipIn(nsA, ['-json', 'link', 'show', 'dev', a]))[0].xdp, undefined, 'no program was attached');

    // forced: both take it and capture what the peer sends
    for (const spec of [`packet:${a}`, `xdp:${a}`]) {
      const cap = lab.run(nsA, pcapTo(spec, ['--force']), { timeoutMs: 30000 });
      const ping = lab.spawn(nsB, ['ping', '-i', '0.2', '-c', '30', '10.77.0.2']);
      const r = await cap;
      ping.kill();
      assert.equal(r.code, 0, `${spec} --force: ${r.stderr}`);
      assert.ok(fs.statSync(path.join(dir, `${spec.replace(':', '-')}.pcap`)).size >= 24 + 3 * (16 + 42), 'three frames captured');
    }
  } finally {
    await lab.cleanup();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
