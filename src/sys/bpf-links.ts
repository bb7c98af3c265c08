/**
 * Who holds an XDP BPF link: a link lives as long as an fd to it, so its holder is a process with an
 * `anon_inode:bpf_link` fd whose fdinfo says `link_type: xdp` and the interface's ifindex (kernel/bpf/syscall.c,
 * bpf_link_show_fdinfo; net/core/dev.c, bpf_xdp_link_show_fdinfo). Reading other processes' fds takes root.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

export interface LinkHolder { pid: number; command: string }

const netnsOf = (pid: number | 'self'): string | null => {
  try { return fs.readlinkSync(`/proc/${pid}/ns/net`); } catch { return null; }
};

/** Processes of this network namespace that hold an XDP link on `ifindex` (this process excluded). */
export function xdpLinkHolders(ifindex: number, procRoot = '/proc'): LinkHolder[] {
  const here = netnsOf('self');
  const found: LinkHolder[] = [];
  const pids = fs.readdirSync(procRoot).filter((e) => /^\d+$/.test(e)).map(Number).filter((p) => p !== process.pid);
  for (const pid of pids) {
    let fds: string[];
    try { fds = fs.readdirSync(`${procRoot}/${pid}/fd`); } catch { continue; }
    const holds = fds.some((fd) => {
      try {
        if (fs.readlinkSync(`${procRoot}/${pid}/fd/${fd}`) !== 'anon_inode:bpf_link') return false;
        const info = fs.readFileSync(`${procRoot}/${pid}/fdinfo/${fd}`, 'utf8');
        return /^link_type:\s*xdp$/m.test(info) && new RegExp(`^ifindex:\\s*${ifindex}$`, 'm').test(info);
      } catch {
        return false;
      }
    });
    if (!holds || (procRoot === '/proc' && netnsOf(pid) !== here)) continue;
    let command = '?';
    try {
      // paths by their last part: `node main.js pcap xdp:veth0 …`, not the whole install path
      const argv = fs.readFileSync(`${procRoot}/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
      command = argv.map((a) => (a.startsWith('/') ? path.basename(a) : a)).join(' ') || '?';
    } catch { /* gone */ }
    found.push({ pid, command });
  }
  return found;
}
