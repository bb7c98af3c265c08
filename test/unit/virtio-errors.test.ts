/**
 * virtio:<addr> bad input on a fake sysfs (no guest needed): not a virtio-net device, interface up, features the
 * device does not offer, legacy queue sizes 0 / not a power of two. Each is one IxyError line; a device that was
 * unbound is rebound and left reset (status 0).
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { HeapDmaAllocator } from '../../src/mem/dma.js';
import { Mempool } from '../../src/mem/mempool.js';
import { parseDeviceSpec } from '../../src/driver/index.js';
import { openVirtio, parseVirtioArg } from '../../src/driver/virtio/virtio-driver.js';
import { IxyError } from '../../src/util/errors.js';

const parent = fs.mkdtempSync(path.join(os.tmpdir(), 'ixy-virtio-sysfs-'));
after(() => fs.rmSync(parent, { recursive: true, force: true }));

const ADDR = '0000:00:04.0';
const F_MAC = 1 << 5;
const F_ANY_LAYOUT = 1 << 27;
const F_STATUS = 1 << 16;

interface Fake { vendor?: number; device?: number; cls?: number; driver?: string | null; ifUp?: boolean; features?: number; queueNum?: number; modern?: boolean }

/** One device in a fresh fake /sys; resource0 is a legacy I/O BAR image (a file: reads give what was written). */
function makeDevice(o: Fake): { root: string; dir: string } {
  const root = fs.mkdtempSync(path.join(parent, 'sys-'));
  const dir = path.join(root, 'bus/pci/devices', ADDR);
  fs.mkdirSync(dir, { recursive: true });
  const hex = (n: number, w: number) => `0x${n.toString(16).padStart(w, '0')}\n`;
  fs.writeFileSync(path.join(dir, 'vendor'), hex(o.vendor ?? 0x1af4, 4));
  fs.writeFileSync(path.join(dir, 'device'), hex(o.device ?? 0x1000, 4));
  fs.writeFileSync(path.join(dir, 'class'), hex(o.cls ?? 0x020000, 6));
  const config = Buffer.alloc(256);
  config.writeUInt16LE(0x0003, 4);
  if (o.modern) {
    // virtio 1.0 §4.1.4 capabilities: common @BAR4+0, notify @BAR4+0x3000 (multiplier 4), device @BAR4+0x2000
    config.writeUInt16LE(0x0010, 6);
    config[0x34] = 0x40;
    const cap = (at: number, next: number, type: number, off: number, len: number, extra?: number) => {
      config[at] = 0x09; config[at + 1] = next; config[at + 2] = extra === undefined ? 16 : 20; config[at + 3] = type; config[at + 4] = 4;
      config.writeUInt32LE(off, at + 8); config.writeUInt32LE(len, at + 12);
      if (extra !== undefined) config.writeUInt32LE(extra, at + 16);
    };
    cap(0x40, 0x50, 1, 0, 0x1000);
    cap(0x50, 0x64, 2, 0x3000, 0x1000, 4);
    cap(0x64, 0, 4, 0x2000, 0x1000);
    const bar = Buffer.alloc(0x4000);
    bar.writeUInt32LE(o.features ?? F_MAC, 4); // device_feature (the same for both selects in a file)
    bar.writeUInt16LE(o.queueNum ?? 256, 24);
    fs.writeFileSync(path.join(dir, 'resource4'), bar);
  }
  fs.writeFileSync(path.join(dir, 'config'), config);
  const io = Buffer.alloc(32);
  io.writeUInt32LE(o.features ?? (F_MAC | F_ANY_LAYOUT | F_STATUS), 0);
  io.writeUInt16LE(o.queueNum ?? 256, 12);
  io.set([0x52, 0x54, 0, 0x12, 0x34, 0x56], 20);
  fs.writeFileSync(path.join(dir, 'resource0'), io);
  const driver = o.driver === undefined ? 'virtio-pci' : o.driver;
  if (driver) {
    fs.mkdirSync(path.join(root, 'bus/pci/drivers', driver), { recursive: true });
    fs.symlinkSync(`../../drivers/${driver}`, path.join(dir, 'driver'));
    fs.mkdirSync(path.join(dir, 'virtio1/net/eth0'), { recursive: true });
    fs.mkdirSync(path.join(root, 'class/net/eth0'), { recursive: true });
    fs.writeFileSync(path.join(root, 'class/net/eth0/flags'), o.ifUp ? '0x1003\n' : '0x1002\n');
  }
  return { root, dir };
}

const pool = new Mempool(new HeapDmaAllocator(), { count: 1024 });
after(() => pool.destroy());

function open(root: string, arg = ADDR, force = false) {
  return openVirtio(parseDeviceSpec(`virtio:${arg}`), { pool, force }, { sysfsRoot: root, dma: () => new HeapDmaAllocator() });
}

/** Asserts a one-line IxyError matching `re`. */
function refuses(fn: () => unknown, re: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof IxyError, String(e));
    assert.match(e.message, re);
    assert.ok(!e.message.includes('\n'), 'one line');
    return true;
  });
}

const unbound = (root: string) => { try { return fs.readFileSync(path.join(root, 'bus/pci/drivers/virtio-pci/unbind'), 'utf8'); } catch { return ''; } };
const rebound = (root: string) => { try { return fs.readFileSync(path.join(root, 'bus/pci/drivers/virtio-pci/bind'), 'utf8'); } catch { return ''; } };
const legacyStatus = (dir: string) => fs.readFileSync(path.join(dir, 'resource0'))[18];

test('not a virtio-net device: an 82599, a virtio 9p device, a bad spec option; nothing is unbound', () => {
  const intel = makeDevice({ vendor: 0x8086, device: 0x10fb, driver: null });
  refuses(() => open(intel.root), /^0000:00:04\.0 is 8086:10fb \(class 0x020000\), not a virtio-net device \(1af4:1000 or 1af4:1041\)/);
  const ninep = makeDevice({ device: 0x1009, cls: 0x000200 });
  refuses(() => open(ninep.root), /not a network device|not a virtio-net device/);
  assert.equal(unbound(ninep.root), '');
  refuses(() => parseVirtioArg(`${ADDR},mode=fast`), /unknown virtio option 'mode=fast'.*mode=legacy\|modern/);
  refuses(() => parseVirtioArg('00:04'), /is not a PCI address/);
});

test('bound to virtio-pci with its interface up: refused unless --force, nothing unbound', () => {
  const d = makeDevice({ ifUp: true });
  refuses(() => open(d.root), /eth0 \(up\).*ip link set eth0 down.*--force/);
  assert.equal(unbound(d.root), '');
  // with --force it is taken (and here fails later on a queue of size 0, rebinding it)
  const f = makeDevice({ ifUp: true, queueNum: 0 });
  refuses(() => open(f.root, ADDR, true), /virtqueue 0 has size 0/);
  assert.equal(unbound(f.root), ADDR);
  assert.equal(rebound(f.root), ADDR);
});

test('legacy queue size 0 or not a power of two: refused, device reset (status 0) and rebound to virtio-pci', () => {
  for (const [queueNum, re] of [[0, /virtqueue 0 has size 0/], [100, /virtqueue 0 has size 100, not a power of two/]] as const) {
    const d = makeDevice({ queueNum });
    refuses(() => open(d.root, `${ADDR},mode=legacy`), re);
    assert.equal(unbound(d.root), ADDR, 'it was unbound');
    assert.equal(rebound(d.root), ADDR, 'and rebound');
    assert.equal(legacyStatus(d.dir), 0, 'device status left at 0 (reset)');
    assert.equal(pool.available, pool.count, 'no buffer kept');
  }
});

test('features the device does not offer: legacy without ANY_LAYOUT or MAC, modern without VERSION_1', () => {
  const noLayout = makeDevice({ features: F_MAC });
  refuses(() => open(noLayout.root), /does not offer VIRTIO_F_ANY_LAYOUT/);
  assert.equal(legacyStatus(noLayout.dir), 0);
  assert.equal(rebound(noLayout.root), ADDR);
  const noMac = makeDevice({ features: F_ANY_LAYOUT });
  refuses(() => open(noMac.root), /does not offer VIRTIO_NET_F_MAC/);
  const modern = makeDevice({ device: 0x1041, modern: true, features: F_MAC });
  refuses(() => open(modern.root), /does not offer VIRTIO_F_VERSION_1.*mode=legacy/);
  assert.equal(fs.readFileSync(path.join(modern.dir, 'resource4'))[20], 0, 'modern device_status reset to 0');
  assert.equal(rebound(modern.root), ADDR);
  refuses(() => open(modern.root, `${ADDR},mode=legacy`), /modern-only virtio device/);
  const legacyOnly = makeDevice({});
  refuses(() => open(legacyOnly.root, `${ADDR},mode=modern`), /no virtio 1\.0 capabilities/);
});
