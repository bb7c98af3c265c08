import { defaultRouteInterfaces } from '../sys/linux-interfaces.js';
import { IxyError } from '../util/errors.js';

const CONSEQUENCE: Record<'xdp' | 'packet', string> = {
  xdp: 'an XDP program on it takes its traffic from the kernel and would cut this machine off',
  packet: 'ixy would send on and listen to the link this machine depends on',
};

/**
 * Refuses, unless forced, an `xdp:`/`packet:` device on the interface that holds this network namespace's default
 * route: the interface the machine (or the namespace) reaches the world through.
 */
export function refuseDefaultRouteLink(spec: string, ifname: string, kind: 'xdp' | 'packet', force: boolean | undefined): void {
  if (force || !defaultRouteInterfaces().has(ifname)) return;
  throw new IxyError(`${spec}: ${ifname} carries this network namespace's default route; ${CONSEQUENCE[kind]}: use another interface, or pass --force`);
}
