import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import fc from 'fast-check';
import { virtioFeatureList } from '../../src/apps/devices.js';
import { IxyError } from '../../src/util/errors.js';
import { type KernelNetdev, type NetdevScan, netdevsFromIp } from '../../src/sys/kernel-netdevs.js';
import {
  parsePciAddress, readPciDevice, listPciDevices, listNetworkDevices, claimPciDevice, safetyOf, describeForListing, NO_SCAN,
} from '../../src/sys/pci.js';

const parent = fs.mkdtempSync(path.join(os.tmpdir(), 'ixy-sysfs-'));
after(() => fs.rmSync(parent, { recursive: true, force: true }));

const UP = '0000:03:00.0';
const DOWN = '0000:03:00.1';
const VIRTIO = '0000:00:04.0';
const NVME = '0000:01:00.0';
const VIRTIO_BOUND = '0000:00:05.0';
const HIDDEN = '0000:00:06.0';
const BAR_SIZE = 512 * 1024;

/** A fresh fake /sys: two 82599 ports on ixgbe (one up, one down), an unbound virtio, an NVMe disk. */
function makeTree(): string {
  const root = fs.mkdtempSync(path.join(parent, 'sys-'));
  const drv = path.join(root, 'bus/pci/drivers/ixgbe');
  fs.mkdirSync(drv, { recursive: true });
  fs.mkdirSync(path.join(root, 'bus/pci/drivers/virtio-pci'), { recursive: true });
  fs.writeFileSync(path.join(drv, 'bind'), '');
  fs.writeFileSync(path.join(drv, 'unbind'), '');
  const dev = (addr: string, vendor: string, device: string, cls: string, driver: string | null, ifname?: string, flags?: string) => {
    const d = path.join(root, 'bus/pci/devices', addr);
    fs.mkdirSync(d, { recursive: true });
    fs.writeFileSync(path.join(d, 'vendor'), `${vendor}\n`);
    fs.writeFileSync(path.join(d, 'device'), `${device}\n`);
    fs.writeFileSync(path.join(d, 'class'), `${cls}\n`);
    fs.writeFileSync(path.join(d, 'numa_node'), '0\n');
    const config = Buffer.alloc(256);
    config.writeUInt16LE(0x0003, 4); // I/O + memory space enabled, bus master off
    config.writeUInt16LE(0x0010, 6); // status: capabilities list, must survive untouched
    fs.writeFileSync(path.join(d, 'config'), config);
    fs.writeFileSync(path.join(d, 'resource0'), Buffer.alloc(BAR_SIZE));
    fs.symlinkSync('../../../kernel/iommu_groups/7', path.join(d, 'iommu_group'));
    if (driver) fs.symlinkSync(`../../drivers/${driver}`, path.join(d, 'driver'));
    if (ifname) {
      // virtio netdevs sit under the virtio child device, as on a real VM: <dev>/virtio2/net/eth0
      fs.mkdirSync(path.join(d, driver === 'virtio-pci' ? 'virtio2/net' : 'net', ifname), { recursive: true });
      // what the kernel's virtio_net negotiated: MAC (5), STATUS (16), VERSION_1 (32), and GUEST_TSO4 (7)
      if (driver === 'virtio-pci') fs.writeFileSync(path.join(d, 'virtio2/features'), `${'0000010100000000100000000000000010000000000000000000000000000000'}\n`);
      fs.mkdirSync(path.join(root, 'class/net', ifname), { recursive: true });
      fs.writeFileSync(path.join(root, 'class/net', ifname, 'flags'), `${flags}\n`);
    }
  };
  dev(UP, '0x8086', '0x10fb', '0x020000', 'ixgbe', 'enp3s0', '0x1003');
  dev(DOWN, '0x8086', '0x10fb', '0x020000', 'ixgbe', 'enp3s0f1', '0x1002');
  dev(VIRTIO, '0x1af4', '0x1000', '0x020000', null);
  dev(NVME, '0x144d', '0xa808', '0x010802', null);
  dev(VIRTIO_BOUND, '0x1af4', '0x1041', '0x020000', 'virtio-pci', 'eth0', '0x1003');
  // As a network namespace's sysfs shows the machine's own NIC: virtio_net bound to the virtio child, no net/ entry.
  dev(HIDDEN, '0x1af4', '0x1041', '0x020000', 'virtio-pci');
  fs.mkdirSync(path.join(root, 'bus/pci/devices', HIDDEN, 'virtio3'));
  fs.symlinkSync('../../../../bus/virtio/drivers/virtio_net', path.join(root, 'bus/pci/devices', HIDDEN, 'virtio3/driver'));
  return root;
}

const read = (root: string, rel: string) => fs.readFileSync(path.join(root, rel), 'utf8');
const unbindText = (root: string) => read(root, 'bus/pci/drivers/ixgbe/unbind');
const bindText = (root: string) => read(root, 'bus/pci/drivers/ixgbe/bind');
const commandReg = (root: string, addr: string) =>
  fs.readFileSync(path.join(root, 'bus/pci/devices', addr, 'config')).readUInt16LE(4);

test('parsePciAddress accepts full and short forms and lower-cases', () => {
  assert.equal(parsePciAddress('0000:03:00.0'), '0000:03:00.0');
  assert.equal(parsePciAddress('03:00.0'), '0000:03:00.0');
  assert.equal(parsePciAddress('ABCD:EF:1F.7'), 'abcd:ef:1f.7');
});

test('parsePciAddress rejects malformed input with a fix-it IxyError', () => {
  assert.throws(() => parsePciAddress('03:0.0'), (e: unknown) => e instanceof IxyError &&
    e.message === "'03:0.0' is not a PCI address: use DDDD:BB:DD.F, e.g. 0000:03:00.0 (see `ixy devices`)");
  for (const bad of ['', '0000:03:00.8', '0000:03:20.0', '3:00.0', ' 03:00.0', '03:00.0 ', 'eth0', '0000:03:00:0', '00000:03:00.0']) {
    assert.throws(() => parsePciAddress(bad), IxyError, bad);
  }
});

test('property: well-formed addresses round-trip; anything else throws only IxyError', () => {
  const h = (n: number, w: number) => n.toString(16).padStart(w, '0');
  fc.assert(fc.property(
    fc.integer({ min: 0, max: 0xffff }), fc.integer({ min: 0, max: 0xff }), fc.integer({ min: 0, max: 0x1f }),
    fc.integer({ min: 0, max: 7 }), fc.boolean(), fc.boolean(),
    (dom, bus, dev, fn, upper, short) => {
      const canon = `${h(dom, 4)}:${h(bus, 2)}:${h(dev, 2)}.${fn}`;
      let s = short ? canon.slice(5) : canon;
      if (upper) s = s.toUpperCase();
      assert.equal(parsePciAddress(s), short ? `0000:${canon.slice(5)}` : canon);
    }));
  fc.assert(fc.property(fc.string({ maxLength: 20 }), (s) => {
    try {
      assert.match(parsePciAddress(s), /^[0-9a-f]{4}:[0-9a-f]{2}:[01][0-9a-f]\.[0-7]$/);
    } catch (e) {
      assert.ok(e instanceof IxyError, `threw ${String(e)} for ${JSON.stringify(s)}`);
    }
  }));
});

test('readPciDevice and listings read the fake tree', () => {
  const root = makeTree();
  const up = readPciDevice('03:00.0', root);
  assert.deepEqual(up, {
    address: UP, vendor: 0x8086, device: 0x10fb, classCode: 0x020000, driver: 'ixgbe', netDriver: 'ixgbe',
    interfaces: [{ name: 'enp3s0', netns: 'this', up: true, addresses: [], routes: 0, defaultRoute: false, parentBus: null, parentDev: null }],
    blind: null, iommuGroup: '7', numaNode: 0, virtioFeatureBits: null,
  });
  assert.deepEqual(readPciDevice(DOWN, root).interfaces.map((n) => [n.name, n.up]), [['enp3s0f1', false]]);
  assert.equal(readPciDevice(VIRTIO, root).driver, null);
  assert.deepEqual(listPciDevices(root).map((d) => d.address), [VIRTIO, VIRTIO_BOUND, HIDDEN, NVME, UP, DOWN]);
  assert.deepEqual(listNetworkDevices(root).map((d) => d.address), [VIRTIO, VIRTIO_BOUND, HIDDEN, UP, DOWN]);
  const vb = readPciDevice(VIRTIO_BOUND, root);
  assert.deepEqual([vb.driver, vb.interfaces.map((n) => [n.name, n.up])], ['virtio-pci', [['eth0', true]]]);
  assert.deepEqual(describeForListing(vb).userDriver, 'virtio');
  assert.equal(virtioFeatureList(describeForListing(vb).virtioFeatureBits!), 'VIRTIO_NET_F_MAC VIRTIO_NET_F_STATUS VIRTIO_F_VERSION_1 bit 7');
  assert.equal(describeForListing(readPciDevice(UP, root)).virtioFeatureBits, null);
  assert.match(safetyOf(vb, false).reason, /^the kernel uses it as eth0 \(up\): take it down first with `ip link set eth0 down`, or pass --force$/);
  assert.throws(() => readPciDevice('0000:09:00.0', root), (e: unknown) => e instanceof IxyError &&
    e.message === 'no PCI device 0000:09:00.0: check the address with `ixy devices` or `lspci -D`');

  const l = describeForListing(up);
  assert.deepEqual([l.vendorDevice, l.name, l.userDriver, l.safe], ['8086:10fb', '82599ES SFP+', 'ixgbe', false]);
  assert.match(l.reason, /eth0|enp3s0/);
  const v = describeForListing(readPciDevice(VIRTIO, root));
  assert.deepEqual([v.vendorDevice, v.name, v.userDriver, v.safe, v.driver], ['1af4:1000', 'virtio-net legacy', 'virtio', true, null]);
  assert.equal(describeForListing({ ...up, vendor: 0x10ec, device: 0x8168 }).name, 'network device');
  assert.equal(safetyOf(readPciDevice(NVME, root), true).safe, false);
});

test('claim refuses a non-network device, naming its class, and touches nothing', () => {
  const root = makeTree();
  assert.throws(() => claimPciDevice(NVME, { sysfsRoot: root }), (e: unknown) => e instanceof IxyError &&
    /not a network device \(class 0x010802\)/.test(e.message));
  assert.equal(commandReg(root, NVME), 0x0003);
});

test('claim refuses an interface that is up unless forced', () => {
  const root = makeTree();
  assert.throws(() => claimPciDevice(UP, { sysfsRoot: root }), (e: unknown) => e instanceof IxyError &&
    e.message.includes('the kernel uses it as enp3s0 (up): take it down first with `ip link set enp3s0 down`, or pass --force'));
  assert.equal(unbindText(root), '');
  assert.equal(commandReg(root, UP), 0x0003);
  const dev = claimPciDevice(UP, { sysfsRoot: root, force: true });
  assert.equal(unbindText(root), UP);
  assert.equal(commandReg(root, UP), 0x0007);
  dev.release(false);
});

test('claim runs expect() before touching the device', () => {
  const root = makeTree();
  assert.throws(() => claimPciDevice(VIRTIO, { sysfsRoot: root, expect: (i) => (i.vendor === 0x8086 ? null : 'not an Intel NIC: use the virtio driver') }),
    (e: unknown) => e instanceof IxyError && e.message === 'not an Intel NIC: use the virtio driver');
  assert.equal(commandReg(root, VIRTIO), 0x0003);
});

test('claim unbinds, enables bus mastering, maps BAR0; release(true) rebinds', () => {
  const root = makeTree();
  const dev = claimPciDevice('03:00.1', { sysfsRoot: root });
  assert.equal(dev.info.driver, 'ixgbe');
  assert.equal(unbindText(root), DOWN);
  const config = fs.readFileSync(path.join(root, 'bus/pci/devices', DOWN, 'config'));
  assert.equal(config.readUInt16LE(4), 0x0007);
  assert.equal(config.readUInt16LE(6), 0x0010);

  const bar = dev.mapBar(0);
  assert.equal(bar.size, BAR_SIZE);
  assert.equal(bar.buffer.byteLength, BAR_SIZE);
  const regs = new Uint32Array(bar.buffer);
  regs[0] = 0xdeadbeef;
  regs[0x1234] = 0x12345678;
  assert.equal(regs[0], 0xdeadbeef);
  assert.equal(bindText(root), '');
  const res0 = path.join(root, 'bus/pci/devices', DOWN, 'resource0');
  const mapsIt = () => fs.readFileSync('/proc/self/maps', 'utf8').includes(res0);
  assert.ok(mapsIt(), 'resource0 is mmapped');
  dev.release(true);
  assert.ok(!mapsIt(), 'release() unmaps the BAR');
  const file = fs.readFileSync(path.join(root, 'bus/pci/devices', DOWN, 'resource0'));
  assert.equal(file.readUInt32LE(0), 0xdeadbeef);
  assert.equal(file.readUInt32LE(0x1234 * 4), 0x12345678);
  assert.equal(bindText(root), DOWN);
  assert.throws(() => dev.mapBar(0), IxyError);
});

test('claim of an unbound device writes no unbind; release(false) leaves it unbound', () => {
  const root = makeTree();
  const dev = claimPciDevice(VIRTIO, { sysfsRoot: root });
  assert.equal(unbindText(root), '');
  assert.equal(commandReg(root, VIRTIO), 0x0007);
  dev.release(false);
  assert.equal(bindText(root), '');
});

test('a failure after unbinding rebinds the kernel driver and throws IxyError', () => {
  const root = makeTree();
  const config = path.join(root, 'bus/pci/devices', DOWN, 'config');
  fs.rmSync(config);
  fs.mkdirSync(config); // opening it for writing now fails with EISDIR
  assert.throws(() => claimPciDevice(DOWN, { sysfsRoot: root }), (e: unknown) => e instanceof IxyError &&
    /bus mastering/.test(e.message));
  assert.equal(unbindText(root), DOWN);
  assert.equal(bindText(root), DOWN);
});

/** eth0 as rtnetlink shows it in the init namespace: the machine's own link, off HIDDEN's virtio child. */
const initEth0 = (over: Partial<KernelNetdev> = {}): KernelNetdev => ({
  name: 'eth0', netns: 'init', up: true, addresses: ['192.0.2.2', 'fe80::1'], routes: 4, defaultRoute: true,
  parentBus: 'virtio', parentDev: 'virtio3', ...over,
});
const scanOf = (netdevs: KernelNetdev[], blind: string | null = null) => (): NetdevScan => ({ netdevs, blind });

test('from a namespace: the init namespace\'s link that sysfs hides is found by its parent device and refused', () => {
  const root = makeTree();
  const info = readPciDevice(HIDDEN, root, scanOf([initEth0(), { ...initEth0(), name: 'veth0', parentBus: null, parentDev: null }]));
  assert.deepEqual([info.driver, info.netDriver, info.interfaces.map((n) => `${n.name}@${n.netns}`)], ['virtio-pci', 'virtio_net', ['eth0@init']]);
  const s = safetyOf(info, false);
  assert.equal(s.safe, false);
  assert.equal(s.reason, 'the kernel uses it as eth0 (up, 2 addresses, 4 routes) in the init network namespace; it carries the default route: ' +
    'taking it cuts this machine off: take it down first with `ip link set eth0 down` in the init network namespace, or pass --force');
  assert.deepEqual(describeForListing(info).interfaces, ['eth0 (init netns)']);
  // the claim refuses before touching anything, and takes it only when forced
  assert.throws(() => claimPciDevice(HIDDEN, { sysfsRoot: root, scan: scanOf([initEth0()]) }),
    (e: unknown) => e instanceof IxyError && e.message.startsWith(`${HIDDEN}: the kernel uses it as eth0 (up, 2 addresses, 4 routes) in the init`));
  assert.ok(!fs.existsSync(path.join(root, 'bus/pci/drivers/virtio-pci/unbind')), 'nothing unbound');
  assert.equal(commandReg(root, HIDDEN), 0x0003);
  // by the PCI parent too (ixgbe's netdevs hang off the PCI function itself)
  const ixgbe = readPciDevice(DOWN, root, scanOf([initEth0({ name: 'enp3s0f1', up: false, addresses: [], routes: 1, defaultRoute: false, parentBus: 'pci', parentDev: DOWN })]));
  assert.match(safetyOf(ixgbe, false).reason, /^the kernel uses it as enp3s0f1 \(1 route\) in the init network namespace: take it down/);
});

test('each of up, an address, a route makes an interface in use; down and bare is safe to take', () => {
  const root = makeTree();
  const judge = (over: Partial<KernelNetdev>) => safetyOf(readPciDevice(HIDDEN, root, scanOf([initEth0({ up: false, addresses: [], routes: 0, defaultRoute: false, ...over })])), false);
  assert.deepEqual(judge({}), { safe: true, reason: 'bound to virtio_net, eth0 in the init network namespace down without addresses or routes: will be unbound' });
  assert.match(judge({ up: true }).reason, /eth0 \(up\) in the init/);
  assert.match(judge({ addresses: ['10.0.0.1'] }).reason, /eth0 \(1 address\) in the init/);
  assert.match(judge({ routes: 2 }).reason, /eth0 \(2 routes\) in the init/);
  for (const over of [{ up: true }, { addresses: ['10.0.0.1'] }, { routes: 1 }]) assert.equal(judge(over).safe, false);
});

test('a network driver bound but no interface seen: refused, naming why (blind, or moved to another namespace)', () => {
  const root = makeTree();
  const blind = safetyOf(readPciDevice(HIDDEN, root, scanOf([], 'the init network namespace cannot be looked into (it takes root: run as root)')), false);
  assert.deepEqual(blind, { safe: false, reason: 'bound to virtio_net, but the init network namespace cannot be looked into (it takes root: run as root): ' +
    'check that its interface is down everywhere, or pass --force' });
  const moved = safetyOf(readPciDevice(HIDDEN, root, scanOf([])), false);
  assert.match(moved.reason, /^bound to virtio_net, but none of its interfaces is in this or the init network namespace \(moved to another one\?\)/);
  assert.equal(safetyOf(readPciDevice(HIDDEN, root, scanOf([])), true).safe, true);
  assert.throws(() => claimPciDevice(HIDDEN, { sysfsRoot: root, scan: scanOf([]) }), IxyError);
  assert.equal(commandReg(root, HIDDEN), 0x0003);
  // no network driver on top of virtio-pci (the QEMU guest's NICs): nothing to look at, safe
  assert.equal(readPciDevice(VIRTIO_BOUND, root, NO_SCAN).netDriver, 'virtio_net', 'its sysfs names an interface: virtio_net is there');
  fs.rmSync(path.join(root, 'bus/pci/devices', VIRTIO_BOUND, 'virtio2/net'), { recursive: true });
  assert.deepEqual(safetyOf(readPciDevice(VIRTIO_BOUND, root), false), { safe: true, reason: 'bound to virtio-pci without a kernel network driver: will be unbound' });
});

test('netdevsFromIp reads ip -json -details addr and route output', () => {
  const links = [
    { ifname: 'lo', flags: ['LOOPBACK', 'UP', 'LOWER_UP'], addr_info: [{ local: '127.0.0.1' }] },
    { ifname: 'eth0', flags: ['BROADCAST', 'MULTICAST', 'UP', 'LOWER_UP'], parentbus: 'virtio', parentdev: 'virtio2',
      addr_info: [{ local: '192.0.2.2' }, { local: 'fd00::2' }] },
    { ifname: 'enp3s0', flags: ['BROADCAST', 'MULTICAST'], parentbus: 'pci', parentdev: '0000:03:00.0', addr_info: [] },
  ];
  const routes = [
    { dst: 'default', gateway: '192.0.2.1', dev: 'eth0' }, { dst: '192.0.2.0/24', dev: 'eth0' },
    { type: 'local', dst: '192.0.2.2', dev: 'eth0', table: 'local' }, { type: 'unreachable', dst: 'default', dev: 'lo' },
  ];
  const [lo, eth0, enp] = netdevsFromIp(links, routes, 'init');
  assert.deepEqual(eth0, { name: 'eth0', netns: 'init', up: true, addresses: ['192.0.2.2', 'fd00::2'], routes: 3, defaultRoute: true, parentBus: 'virtio', parentDev: 'virtio2' });
  assert.deepEqual([lo.defaultRoute, lo.routes, enp.up, enp.routes, enp.parentDev], [false, 1, false, 0, '0000:03:00.0']);
});
