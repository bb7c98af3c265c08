/**
 * `ixy devices`, the Linux-interface section: a fake sysfs tree (/sys/class/net as the kernel lays it out) and
 * fake routing tables, then one real run in this namespace and, as root, one in a fresh namespace with a veth.
 * Nothing here changes a real interface.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_ROUTE_WARNING, describeInterface, devicesReport, type DevicesReport, type LinuxInterfaceReport, printDevices } from '../../src/apps/devices.js';
import { defaultRouteInterfaces, type LinuxInterface, listLinuxInterfaces } from '../../src/sys/linux-interfaces.js';
import { readMac, readMtu, readOperstate, readQueueCounts, readSysfsDriver } from '../../src/sys/netif.js';
import { canUseNetns, Netlab } from '../../lab/netns.js';

const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const parent = fs.mkdtempSync(path.join(os.tmpdir(), 'ixy-devices-'));
after(() => fs.rmSync(parent, { recursive: true, force: true }));

interface FakeIf {
  ifindex: number;
  mac: string;
  mtu: number;
  operstate: string;
  type?: number;
  queues?: number;
  /** Where the netdev directory really lives (class/net/<if> is a link to it), as for PCI and virtio NICs. */
  under?: string;
  driverLink?: string;
  ueventDriver?: string;
  tunFlags?: string;
}

/**
 * A fake /sys and /proc: lo; eth0 on virtio_net (device/driver link, the default route); veth0 (sysfs names no
 * driver, as for a real veth); tun0 (layer 3) and tap0 (tun_flags); jumbo0 with MTU 9000 on ixgbe (DRIVER= in
 * device/uevent); and the bonding_masters file that is not an interface.
 */
function makeTree(): { sys: string; proc: string } {
  const root = fs.mkdtempSync(path.join(parent, 'tree-'));
  const sys = path.join(root, 'sys');
  const proc = path.join(root, 'proc');
  const classNet = path.join(sys, 'class/net');
  fs.mkdirSync(classNet, { recursive: true });
  const add = (name: string, f: FakeIf) => {
    const real = path.join(sys, f.under ?? 'devices/virtual/net', name);
    fs.mkdirSync(real, { recursive: true });
    fs.symlinkSync(path.relative(classNet, real), path.join(classNet, name));
    const w = (file: string, text: string) => fs.writeFileSync(path.join(real, file), `${text}\n`);
    w('ifindex', String(f.ifindex));
    w('address', f.mac);
    w('mtu', String(f.mtu));
    w('operstate', f.operstate);
    w('type', String(f.type ?? 1));
    w('uevent', `INTERFACE=${name}\nIFINDEX=${f.ifindex}`);
    for (let q = 0; q < (f.queues ?? 1); q++) {
      fs.mkdirSync(path.join(real, 'queues', `rx-${q}`), { recursive: true });
      fs.mkdirSync(path.join(real, 'queues', `tx-${q}`), { recursive: true });
    }
    if (f.tunFlags) w('tun_flags', f.tunFlags);
    if (f.under) {
      // <device>/net/<if>: `device` points two levels up, at the PCI or virtio device
      fs.symlinkSync('../..', path.join(real, 'device'));
      const dev = path.dirname(path.dirname(real));
      if (f.driverLink) {
        const drv = path.join(sys, f.driverLink);
        fs.mkdirSync(drv, { recursive: true });
        fs.symlinkSync(path.relative(dev, drv), path.join(dev, 'driver'));
      }
      if (f.ueventDriver) fs.writeFileSync(path.join(dev, 'uevent'), `DRIVER=${f.ueventDriver}\nPCI_SLOT_NAME=0000:03:00.0\n`);
    }
  };
  add('lo', { ifindex: 1, mac: '00:00:00:00:00:00', mtu: 65536, operstate: 'unknown', type: 772 });
  add('eth0', {
    ifindex: 2, mac: '52:54:00:12:34:56', mtu: 1500, operstate: 'up', queues: 4,
    under: 'devices/pci0000:00/0000:00:03.0/virtio0/net', driverLink: 'bus/virtio/drivers/virtio_net',
  });
  add('veth0', { ifindex: 3, mac: '0a:00:00:00:00:03', mtu: 1500, operstate: 'lowerlayerdown' });
  add('tun0', { ifindex: 4, mac: '', mtu: 1500, operstate: 'unknown', type: 65534, tunFlags: '0x1001' });
  add('tap0', { ifindex: 5, mac: '0a:00:00:00:00:05', mtu: 1500, operstate: 'down', tunFlags: '0x1002' });
  add('jumbo0', {
    ifindex: 6, mac: '0a:00:00:00:00:06', mtu: 9000, operstate: 'up', queues: 8,
    under: 'devices/pci0000:00/0000:03:00.0/net', ueventDriver: 'ixgbe',
  });
  fs.writeFileSync(path.join(classNet, 'bonding_masters'), '\n');

  fs.mkdirSync(path.join(proc, 'net'), { recursive: true });
  fs.writeFileSync(
    path.join(proc, 'net/route'),
    'Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n' +
      'eth0\t00000000\t0102000A\t0003\t0\t0\t100\t00000000\t0\t0\t0\n' +
      'eth0\t0002000A\t00000000\t0001\t0\t0\t100\t00FFFFFF\t0\t0\t0\n' +
      'veth0\t0000A8C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n',
  );
  const z = '0'.repeat(32);
  fs.writeFileSync(
    path.join(proc, 'net/ipv6_route'),
    // an on-link /64 on veth0 and the reject default route every kernel keeps on lo: neither is a default route
    `fd000000000000000000000000000000 40 ${z} 00 ${z} 00000100 00000001 00000000 00000001    veth0\n` +
      `${z} 00 ${z} 00 ${z} ffffffff 00000001 00000000 00200200       lo\n`,
  );
  return { sys, proc };
}

function ixy(args: string[]): { code: number | null; out: string; err: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 60000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

const byName = (list: LinuxInterfaceReport[], name: string): LinuxInterfaceReport => {
  const i = list.find((x) => x.name === name);
  assert.ok(i, `${name} is listed (got ${list.map((x) => x.name).join(', ')})`);
  return i;
};

describe('Linux interfaces from a fake sysfs tree', () => {
  const { sys, proc } = makeTree();
  const routes = { routePath: path.join(proc, 'net/route'), ipv6RoutePath: path.join(proc, 'net/ipv6_route') };
  const withVeth = { ...routes, driverLookup: (n: string) => (n.startsWith('veth') ? 'veth' : null) };

  test('netif reads the attributes under the sysfs root', () => {
    assert.deepEqual(Array.from(readMac('eth0', sys)), [0x52, 0x54, 0x00, 0x12, 0x34, 0x56]);
    assert.deepEqual(Array.from(readMac('tun0', sys)), [0, 0, 0, 0, 0, 0], 'no link-layer address');
    assert.equal(readMtu('jumbo0', sys), 9000);
    assert.equal(readOperstate('veth0', sys), 'lowerlayerdown');
    assert.deepEqual(readQueueCounts('jumbo0', sys), { rx: 8, tx: 8 });
    assert.equal(readQueueCounts('nosuch0', sys), null);
    assert.equal(readSysfsDriver('eth0', sys), 'virtio_net', 'device/driver link');
    assert.equal(readSysfsDriver('jumbo0', sys), 'ixgbe', 'DRIVER= in device/uevent');
    assert.equal(readSysfsDriver('tun0', sys), 'tun', 'tun_flags');
    assert.equal(readSysfsDriver('veth0', sys), null, 'sysfs names no driver for a veth');
    assert.throws(() => readMtu('nosuch0', sys), /^IxyError: no interface 'nosuch0' in this network namespace: see ip link$/m);
  });

  test('default routes: IPv4 0.0.0.0/0 and IPv6 ::/0, not the reject route on lo', () => {
    assert.deepEqual([...defaultRouteInterfaces(routes.routePath, routes.ipv6RoutePath)], ['eth0']);
    const v6 = path.join(proc, 'net/ipv6_route_default');
    fs.writeFileSync(v6, `${'0'.repeat(32)} 00 ${'0'.repeat(32)} 00 fd000000000000000000000000000001 00000400 00000003 00000000 00000003     wlan0\n`);
    assert.deepEqual([...defaultRouteInterfaces(path.join(proc, 'missing'), v6)], ['wlan0']);
    assert.deepEqual([...defaultRouteInterfaces(path.join(proc, 'missing'), path.join(proc, 'missing6'))], []);
  });

  test('every interface, by ifindex, with MAC, MTU, state, driver and queues', () => {
    const list = listLinuxInterfaces({ sysfsRoot: sys, ...withVeth });
    assert.deepEqual(list.map((i) => i.name), ['lo', 'eth0', 'veth0', 'tun0', 'tap0', 'jumbo0'], 'bonding_masters is no interface');
    const eth0 = list[1];
    assert.deepEqual(eth0, {
      name: 'eth0', ifindex: 2, mac: '52:54:00:12:34:56', mtu: 1500, operstate: 'up', driver: 'virtio_net', linkType: 1,
      tunMode: null, rxQueues: 4, txQueues: 4, defaultRoute: true,
    } satisfies LinuxInterface);
    assert.equal(list[2].driver, 'veth', 'the lookup fills in what sysfs does not say');
    assert.equal(list[3].mac, null);
    assert.equal(list[3].tunMode, 'tun');
    assert.equal(list[4].tunMode, 'tap');
    assert.equal(list.filter((i) => i.defaultRoute).length, 1);
    // a fake tree never asks ethtool about its names
    const plain = listLinuxInterfaces({ sysfsRoot: sys, ...routes });
    assert.equal(plain.find((i) => i.name === 'veth0')?.driver, null);
    assert.equal(plain.find((i) => i.name === 'lo')?.driver, null);
  });

  test('which specs work: native or generic xdp, MTU, lo, the default route', () => {
    const r = devicesReport(sys, withVeth);
    const lo = byName(r.linux, 'lo');
    assert.equal(lo.packet.spec, 'packet:lo');
    assert.equal(lo.xdp.spec, null);
    assert.match(lo.xdp.note, /loopback/);

    const eth0 = byName(r.linux, 'eth0');
    assert.deepEqual(eth0.xdp, { spec: 'xdp:eth0', mode: 'native', note: 'native XDP, driver virtio_net' });
    assert.deepEqual(eth0.warnings, [DEFAULT_ROUTE_WARNING]);
    assert.match(DEFAULT_ROUTE_WARNING, /carries the default route: taking it with xdp would cut this machine off/);

    const veth = byName(r.linux, 'veth0');
    assert.equal(veth.xdp.mode, 'native');
    assert.equal(veth.packet.spec, 'packet:veth0');
    assert.deepEqual(veth.warnings, ['link is lowerlayerdown: no carrier (cable, or a veth whose peer is down)']);

    const tun = byName(r.linux, 'tun0');
    assert.equal(tun.driver, 'tun');
    assert.equal(tun.xdp.mode, 'generic', 'a layer-3 tun has no native XDP');
    assert.ok(tun.warnings.some((w) => /not Ethernet .*layer-3 tun/.test(w)), tun.warnings.join('; '));
    assert.equal(byName(r.linux, 'tap0').xdp.mode, 'native', 'TAP mode has');

    const jumbo = byName(r.linux, 'jumbo0');
    assert.equal(jumbo.driver, 'ixgbe');
    assert.equal(jumbo.xdp.spec, null);
    assert.equal(jumbo.xdp.mode, null);
    assert.match(jumbo.xdp.note, /^MTU too large for xdp: 9000 > 1774/);
    assert.equal(jumbo.packet.spec, 'packet:jumbo0');

    // without a driver name the listing says generic, and why
    const unknown = byName(devicesReport(sys, routes).linux, 'veth0');
    assert.deepEqual(unknown.xdp, { spec: 'xdp:veth0', mode: 'generic', note: 'generic XDP: driver unknown' });
    assert.match(r.tap, /^tap:NAME\[,mq=N\] creates a TAP interface by name/);
  });

  test('MTU limit for xdp: 1774 fits 2048-byte buffers with 256 headroom, 1775 does not', () => {
    const base: LinuxInterface = {
      name: 'x0', ifindex: 9, mac: '0a:00:00:00:00:09', mtu: 1774, operstate: 'up', driver: 'veth', linkType: 1,
      tunMode: null, rxQueues: 1, txQueues: 1, defaultRoute: false,
    };
    assert.equal(describeInterface(base).xdp.spec, 'xdp:x0');
    assert.equal(describeInterface({ ...base, mtu: 1775 }).xdp.spec, null);
    assert.deepEqual(describeInterface(base).warnings, []);
  });

  test('the text listing', () => {
    const lines: string[] = [];
    printDevices(devicesReport(sys, withVeth), (l) => lines.push(l));
    const text = lines.join('\n');
    const at = lines.indexOf('Linux interfaces (this network namespace):');
    assert.ok(at >= 0, text);
    assert.match(lines[at + 1], /^ {2}lo +00:00:00:00:00:00 +mtu 65536 +unknown +driver - +queues 1 rx \/ 1 tx$/);
    assert.match(text, /^ {6}packet:lo; no xdp: not for the loopback interface$/m);
    assert.match(text, /^ {2}eth0 +52:54:00:12:34:56 +mtu 1500 +up +driver virtio_net +queues 4 rx \/ 4 tx\n {6}packet:eth0; xdp:eth0 \(native XDP, driver virtio_net\)\n {6}! carries the default route/m);
    assert.match(text, /^ {6}packet:jumbo0; no xdp: MTU too large for xdp/m);
    assert.match(text, /^ {2}tap:NAME\[,mq=N\] creates a TAP interface by name/m);
  });

  test('the CLI: --sysfs and --procfs, JSON with a linux array', () => {
    const r = ixy(['devices', '--json', '--sysfs', sys, '--procfs', proc]);
    assert.equal(r.code, 0, r.err);
    const rep = JSON.parse(r.out.trim().split('\n').pop()!) as DevicesReport;
    assert.deepEqual(rep.linux.map((i) => i.name), ['lo', 'eth0', 'veth0', 'tun0', 'tap0', 'jumbo0']);
    const eth0 = byName(rep.linux, 'eth0');
    assert.equal(eth0.defaultRoute, true);
    assert.equal(eth0.xdp.mode, 'native');
    for (const i of rep.linux) {
      for (const k of ['name', 'mac', 'mtu', 'operstate', 'driver', 'rxQueues', 'txQueues', 'defaultRoute', 'xdp', 'packet', 'warnings']) {
        assert.ok(k in i, `${i.name} has ${k}`);
      }
    }
    const text = ixy(['devices', '--sysfs', sys, '--procfs', proc]);
    assert.equal(text.code, 0, text.err);
    assert.match(text.out, /Linux interfaces \(this network namespace\):/);
  });
});

describe('Linux interfaces of this machine', () => {
  test('ixy devices --json lists lo with packet support', () => {
    const r = ixy(['devices', '--json']);
    assert.equal(r.code, 0, r.err);
    const rep = JSON.parse(r.out.trim().split('\n').pop()!) as DevicesReport;
    const lo = byName(rep.linux, 'lo');
    assert.equal(lo.packet.spec, 'packet:lo');
    assert.equal(lo.xdp.spec, null);
    assert.equal(lo.ifindex, 1);
    assert.ok(lo.mtu !== null && lo.mtu > 0);
    // whatever holds the default route here is flagged, and only that
    const routed = defaultRouteInterfaces();
    for (const i of rep.linux) assert.equal(i.defaultRoute, routed.has(i.name), i.name);
  });

  test('a veth in a fresh namespace: driver veth from ethtool, native xdp', { skip: canUseNetns() ? false : 'needs root and ip' }, async () => {
    const lab = new Netlab();
    try {
      const ns = lab.ns('dev');
      const { a, b } = lab.veth({ ns, name: 'a' }, { ns, name: 'b', mtu: 9000 });
      const r = await lab.run(ns, [process.execPath, CLI, 'devices', '--json'], { timeoutMs: 60000 });
      assert.equal(r.code, 0, r.stderr);
      const rep = JSON.parse(r.stdout.trim().split('\n').pop()!) as DevicesReport;
      assert.deepEqual(rep.linux.map((i) => i.name).sort(), ['lo', a, b].sort());
      const va = byName(rep.linux, a);
      assert.equal(va.driver, 'veth');
      assert.deepEqual(va.xdp, { spec: `xdp:${a}`, mode: 'native', note: 'native XDP, driver veth' });
      assert.equal(va.defaultRoute, false);
      assert.equal(va.operstate, 'up');
      assert.match(byName(rep.linux, b).xdp.note, /^MTU too large for xdp: 9000 > 1774/);
      assert.equal(byName(rep.linux, 'lo').driver, null);
    } finally {
      await lab.cleanup();
    }
  });
});
