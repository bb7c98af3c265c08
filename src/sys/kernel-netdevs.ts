/**
 * The kernel's network interfaces as rtnetlink reports them (through iproute2's `ip -json`), in this network
 * namespace and in the init one: state, addresses, routes and the device each hangs off (IFLA_PARENT_DEV_BUS_NAME and
 * IFLA_PARENT_DEV_NAME, Linux 5.14+). A namespace's sysfs hides other namespaces' interfaces from a PCI device's
 * `net/` directory; rtnetlink asked from inside the init namespace does not, so the PCI safety check stands on this.
 *
 * The init namespace is the one kernel threads live in: /proc/2 is kthreadd in the initial PID namespace.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';

export type NetnsName = 'this' | 'init';

export interface KernelNetdev {
  name: string;
  netns: NetnsName;
  /** IFF_UP. */
  up: boolean;
  addresses: string[];
  /** Routes of any table (main, local, …) through this interface. */
  routes: number;
  /** Holds an IPv4 or IPv6 default route. */
  defaultRoute: boolean;
  /** 'pci' with a PCI address, 'virtio' with a virtio device name (virtio2), or null (virtual links, old kernels). */
  parentBus: string | null;
  parentDev: string | null;
}

export interface NetdevScan {
  netdevs: KernelNetdev[];
  /** Why a namespace that may hold a device's interfaces could not be looked into, or null. */
  blind: string | null;
}

export const EMPTY_SCAN: NetdevScan = { netdevs: [], blind: null };

interface IpLink { ifname?: string; flags?: string[]; addr_info?: { local?: string }[]; parentbus?: string; parentdev?: string }
interface IpRoute { dst?: string; dev?: string; type?: string }

/** KernelNetdevs from `ip -json -details addr show` and `ip -json [-6] route show table all` (their parsed JSON). */
export function netdevsFromIp(links: IpLink[], routes: IpRoute[], netns: NetnsName): KernelNetdev[] {
  return links.filter((l) => typeof l.ifname === 'string').map((l) => {
    const mine = routes.filter((r) => r.dev === l.ifname);
    return {
      name: l.ifname as string,
      netns,
      up: (l.flags ?? []).includes('UP'),
      addresses: (l.addr_info ?? []).flatMap((a) => (a.local ? [a.local] : [])),
      routes: mine.length,
      defaultRoute: mine.some((r) => r.dst === 'default' && (r.type === undefined || r.type === 'unicast')),
      parentBus: l.parentbus ?? null,
      parentDev: l.parentdev ?? null,
    };
  });
}

const INIT_NETNS = '/proc/2/ns/net';
/** include/linux/sched.h: PF_KTHREAD, in field 9 (flags) of /proc/PID/stat. */
const PF_KTHREAD = 0x00200000;

function isKernelThread(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const flags = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[6]);
    return (flags & PF_KTHREAD) !== 0;
  } catch {
    return false;
  }
}

/** Whether this process is in the init network namespace; null when that cannot be told (not root, no /proc/2). */
export function inInitNetns(): boolean | null {
  if (!isKernelThread(2)) return null;
  try {
    return fs.readlinkSync(INIT_NETNS) === fs.readlinkSync('/proc/self/ns/net');
  } catch {
    return null;
  }
}

function ipJson<T>(netns: NetnsName, args: string[]): T[] {
  const [cmd, argv] = netns === 'this' ? ['ip', args] : ['nsenter', [`--net=${INIT_NETNS}`, 'ip', ...args]];
  const out = execFileSync(cmd, argv, { encoding: 'utf8', timeout: 10_000, stdio: ['ignore', 'pipe', 'pipe'] });
  return JSON.parse(out || '[]') as T[];
}

function scanNamespace(netns: NetnsName): KernelNetdev[] {
  const links = ipJson<IpLink>(netns, ['-json', '-details', 'addr', 'show']);
  const routes = [...ipJson<IpRoute>(netns, ['-json', 'route', 'show', 'table', 'all']), ...ipJson<IpRoute>(netns, ['-json', '-6', 'route', 'show', 'table', 'all'])];
  return netdevsFromIp(links, routes, netns);
}

function failure(e: unknown): string {
  const err = e as NodeJS.ErrnoException & { stderr?: string };
  if (err.code === 'ENOENT') return 'needs iproute2\'s ip and util-linux\'s nsenter (apt install iproute2 util-linux)';
  const detail = (err.stderr ?? '').trim().split('\n')[0] || err.message.split('\n')[0];
  return `failed: ${detail}`;
}

/** The interfaces of this network namespace and, when this is not it, of the init one. */
export function scanKernelNetdevs(): NetdevScan {
  const netdevs: KernelNetdev[] = [];
  let blind: string | null = null;
  try {
    netdevs.push(...scanNamespace('this'));
  } catch (e) {
    blind = `reading this network namespace's interfaces ${failure(e)}`;
  }
  const inInit = inInitNetns();
  if (inInit === null) {
    blind ??= 'the init network namespace cannot be looked into (it takes root: run as root)';
  } else if (!inInit) {
    try {
      netdevs.push(...scanNamespace('init'));
    } catch (e) {
      blind ??= `looking into the init network namespace ${failure(e)}`;
    }
  }
  return { netdevs, blind };
}
