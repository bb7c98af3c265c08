/**
 * The VFIO path on the host, against a fake sysfs (this VM's kernel has no VFIO; the guest test
 * test/guest/virtio-vfio-guest.test.ts runs the real thing): ioctl numbers, the VFIO-vs-pagemap choice, the group
 * viability check and its one-line message, spec options, and that a failed claim restores the binding.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseVirtioArg } from '../../src/driver/virtio/virtio-driver.js';
import { describeForListing, dmaPathFor, readPciDevice } from '../../src/sys/pci.js';
import { IxyError } from '../../src/util/errors.js';
import {
  chooseDmaPath, claimVfioDevice, groupNotViable, openPciPlatform, VFIO_CHECK_EXTENSION, VFIO_DEVICE_GET_REGION_INFO, VFIO_GET_API_VERSION,
  VFIO_GROUP_GET_DEVICE_FD, VFIO_GROUP_GET_STATUS, VFIO_GROUP_SET_CONTAINER, VFIO_IOMMU_MAP_DMA, VFIO_IOMMU_UNMAP_DMA, VFIO_SET_IOMMU,
} from '../../src/sys/vfio.js';

const parent = fs.mkdtempSync(path.join(os.tmpdir(), 'ixy-vfio-'));
after(() => fs.rmSync(parent, { recursive: true, force: true }));

const NIC = '0000:00:02.0';
const NOGROUP = '0000:00:05.0';
const PEER = '0000:00:02.1';
const BRIDGE = '0000:00:02.2';

interface Dev { addr: string; driver: string | null; group: string | null; cls?: string }

/** A fake /sys: devices (virtio-net unless cls says otherwise) with drivers and IOMMU groups, plus a fake /dev/vfio/vfio. */
function makeTree(devs: Dev[]): { root: string; vfioDev: string } {
  const root = fs.mkdtempSync(path.join(parent, 'sys-'));
  fs.mkdirSync(path.join(root, 'bus/pci/devices'), { recursive: true });
  fs.writeFileSync(path.join(root, 'bus/pci/drivers_probe'), '');
  for (const d of devs) {
    const dir = path.join(root, 'bus/pci/devices', d.addr);
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'vendor'), '0x1af4\n');
    fs.writeFileSync(path.join(dir, 'device'), '0x1041\n');
    fs.writeFileSync(path.join(dir, 'class'), `${d.cls ?? '0x020000'}\n`);
    fs.writeFileSync(path.join(dir, 'driver_override'), '(null)\n');
    if (d.driver) {
      const drv = path.join(root, 'bus/pci/drivers', d.driver);
      fs.mkdirSync(drv, { recursive: true });
      fs.writeFileSync(path.join(drv, 'bind'), '');
      fs.writeFileSync(path.join(drv, 'unbind'), '');
      fs.symlinkSync(`../../drivers/${d.driver}`, path.join(dir, 'driver'));
    }
    if (d.group) {
      const g = path.join(root, 'kernel/iommu_groups', d.group, 'devices');
      fs.mkdirSync(g, { recursive: true });
      fs.symlinkSync(`../../../../kernel/iommu_groups/${d.group}`, path.join(dir, 'iommu_group'));
      fs.symlinkSync(`../../../../bus/pci/devices/${d.addr}`, path.join(g, d.addr));
    }
  }
  const vfioDir = fs.mkdtempSync(path.join(parent, 'dev-vfio-'));
  fs.writeFileSync(path.join(vfioDir, 'vfio'), '');
  return { root, vfioDev: path.join(vfioDir, 'vfio') };
}

const read = (root: string, rel: string) => fs.readFileSync(path.join(root, rel), 'utf8');

function oneLine(fn: () => unknown, re: RegExp): IxyError {
  let err: unknown;
  assert.throws(fn, (e: unknown) => { err = e; return true; });
  assert.ok(err instanceof IxyError, `not an IxyError: ${String(err)}`);
  assert.ok(!err.message.includes('\n'), `more than one line: ${err.message}`);
  assert.match(err.message, re);
  return err;
}

test('VFIO ioctl numbers are _IO(";", 100 + n) from include/uapi/linux/vfio.h', () => {
  assert.deepEqual(
    [VFIO_GET_API_VERSION, VFIO_CHECK_EXTENSION, VFIO_SET_IOMMU, VFIO_GROUP_GET_STATUS, VFIO_GROUP_SET_CONTAINER, VFIO_GROUP_GET_DEVICE_FD,
      VFIO_DEVICE_GET_REGION_INFO, VFIO_IOMMU_MAP_DMA, VFIO_IOMMU_UNMAP_DMA],
    [0x3b64, 0x3b65, 0x3b66, 0x3b67, 0x3b68, 0x3b6a, 0x3b6c, 0x3b71, 0x3b72]);
});

test('path choice: VFIO iff an IOMMU group and /dev/vfio/vfio; dma= forces either', () => {
  const { root, vfioDev } = makeTree([{ addr: NIC, driver: 'virtio-pci', group: '2' }, { addr: NOGROUP, driver: null, group: null }]);
  const missing = path.join(path.dirname(vfioDev), 'nope');
  const vfio = chooseDmaPath(NIC, { sysfsRoot: root, vfioDev });
  assert.equal(vfio.path, 'vfio');
  assert.match(vfio.reason, /^IOMMU group 2 and \/dev\/vfio\/vfio/);
  const noDev = chooseDmaPath(NIC, { sysfsRoot: root, vfioDev: missing });
  assert.equal(noDev.path, 'pagemap');
  assert.match(noDev.reason, /IOMMU group 2 but no \/dev\/vfio\/vfio \(modprobe vfio-pci/);
  const noGroup = chooseDmaPath(NOGROUP, { sysfsRoot: root, vfioDev });
  assert.deepEqual([noGroup.path, noGroup.reason.startsWith('no IOMMU group')], ['pagemap', true]);
  assert.equal(chooseDmaPath(NIC, { sysfsRoot: root, vfioDev, forced: 'pagemap' }).path, 'pagemap');
  assert.equal(chooseDmaPath(NOGROUP, { sysfsRoot: root, vfioDev: missing, forced: 'vfio' }).path, 'vfio');
  // the listing says the same
  assert.deepEqual(describeForListing(readPciDevice(NIC, root), true).dma, vfio);
  assert.deepEqual(describeForListing(readPciDevice(NIC, root), false).dma, dmaPathFor('2', false));
  assert.equal(describeForListing(readPciDevice(NOGROUP, root), true).dma.path, 'pagemap');
});

test('group viability: other devices bound to kernel drivers make a one-line "not viable" error; nothing is touched', () => {
  const { root, vfioDev } = makeTree([
    { addr: NIC, driver: 'virtio-pci', group: '4' }, { addr: PEER, driver: 'ahci', group: '4', cls: '0x010601' },
    { addr: BRIDGE, driver: 'pcieport', group: '4', cls: '0x060400' },
  ]);
  assert.equal(groupNotViable('4', NIC, root),
    'VFIO group 4 not viable: other devices in the group are still bound: 0000:00:02.1 (ahci): ' +
    'unbind them or bind them to vfio-pci too (the IOMMU isolates only whole groups)');
  oneLine(() => claimVfioDevice(NIC, { sysfsRoot: root, vfioDev }), /^VFIO group 4 not viable: other devices in the group are still bound: 0000:00:02\.1 \(ahci\): /);
  oneLine(() => openPciPlatform(NIC, { sysfsRoot: root, vfioDev, pagemapDma: () => { throw new Error('no'); } }), /^VFIO group 4 not viable/);
  assert.equal(readPciDevice(NIC, root).driver, 'virtio-pci', 'still bound');
  assert.equal(read(root, 'bus/pci/drivers/virtio-pci/unbind'), '', 'never unbound');
  assert.equal(read(root, `bus/pci/devices/${NIC}/driver_override`), '(null)\n');
  // unbound, vfio-pci, pci-stub and pcieport peers are fine
  fs.unlinkSync(path.join(root, 'bus/pci/devices', PEER, 'driver'));
  assert.equal(groupNotViable('4', NIC, root), null);
  assert.equal(groupNotViable('99', NIC, root), null, 'no group directory: left to the kernel check');
});

test('dma=vfio without a group or without /dev/vfio/vfio: one-line errors before any change', () => {
  const { root, vfioDev } = makeTree([{ addr: NIC, driver: 'virtio-pci', group: '2' }, { addr: NOGROUP, driver: 'virtio-pci', group: null }]);
  oneLine(() => claimVfioDevice(NOGROUP, { sysfsRoot: root, vfioDev }), /^dma=vfio: 0000:00:05\.0 has no IOMMU group .*intel_iommu=on.*dma=pagemap$/);
  oneLine(() => claimVfioDevice(NIC, { sysfsRoot: root, vfioDev: path.join(root, 'missing') }), /does not exist: modprobe vfio-pci/);
  assert.equal(read(root, 'bus/pci/drivers/virtio-pci/unbind'), '');
});

test('a bind to vfio-pci that does not take restores the original driver and clears driver_override', () => {
  const { root, vfioDev } = makeTree([{ addr: NIC, driver: 'virtio-pci', group: '2' }]);
  // the fake sysfs does not rebind on drivers_probe, as when vfio-pci is not loaded
  oneLine(() => claimVfioDevice(NIC, { sysfsRoot: root, vfioDev }), /^0000:00:02\.0 did not bind to vfio-pci \(driver now virtio-pci\): modprobe vfio-pci$/);
  assert.equal(read(root, 'bus/pci/drivers/virtio-pci/unbind'), NIC, 'unbound from virtio-pci');
  assert.equal(read(root, 'bus/pci/drivers_probe'), NIC, 'probe asked for');
  assert.equal(read(root, `bus/pci/devices/${NIC}/driver_override`), '\n', 'override cleared');
  assert.equal(read(root, 'bus/pci/drivers/virtio-pci/bind'), NIC, 'original driver bound again');
});

test('spec option dma=vfio|pagemap', () => {
  assert.deepEqual(parseVirtioArg(`${NIC},dma=vfio`), { address: NIC, mode: 'auto', dma: 'vfio' });
  assert.deepEqual(parseVirtioArg(`${NIC},mode=modern,dma=pagemap`), { address: NIC, mode: 'modern', dma: 'pagemap' });
  assert.deepEqual(parseVirtioArg(NIC), { address: NIC, mode: 'auto' });
  oneLine(() => parseVirtioArg(`${NIC},dma=iommu`), /unknown virtio option 'dma=iommu'.*dma=vfio\|pagemap/);
});
