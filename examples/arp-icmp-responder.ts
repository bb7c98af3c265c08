/**
 * The smallest stack program: an address on a device that answers ARP requests and ICMP echo (ping). The stack does
 * both by itself, so the app has no work; the loop still has to run. Prints the counters every second and at the end.
 * Runs until SIGINT/SIGTERM or --seconds.
 *
 *   node dist/examples/arp-icmp-responder.js --dev xdp:veth0 --ip 10.0.0.2/24 [--seconds 10]
 *   then, from the peer:  ping 10.0.0.2; ip neigh show 10.0.0.2
 */
import { parseArgs } from 'node:util';
import { type App, createPool, ElasticThread, formatMac, openDevice, parseIpv4Cidr, Stack, MonotonicClock } from 'ixy.ts';

const { values: o } = parseArgs({ options: { dev: { type: 'string' }, ip: { type: 'string' }, seconds: { type: 'string' } } });
if (!o.dev || !o.ip) {
  console.error('usage: arp-icmp-responder --dev SPEC --ip A.B.C.D/N [--seconds S]');
  process.exit(2);
}

const pool = createPool([o.dev]);
const device = openDevice(o.dev, { pool });
const stack = new Stack({ device, addresses: [parseIpv4Cidr(o.ip)], time: new MonotonicClock() });
const idle: App = { finished: false, start() {}, onEvents() {} };
const loop = new ElasticThread(stack, idle);

const counters = (): string => `frames in ${stack.iface.counters.rxFrames}, out ${stack.iface.counters.txFrames}; ` +
  `ARP requests answered ${stack.iface.counters.arpRequestsAnswered}, ICMP echo replies ${stack.counters.icmpEchoReplies}`;
const stop = (): void => loop.stop();
process.once('SIGINT', stop).once('SIGTERM', stop);
const timer = o.seconds ? setTimeout(stop, Number(o.seconds) * 1000) : undefined;
const ticker = setInterval(() => console.log(counters()), 1000);
console.log(`up: ${device.spec}, MAC ${formatMac(stack.iface.mac)}, ${o.ip}`);
await loop.run();
clearTimeout(timer);
clearInterval(ticker);
stack.shutdown();
device.close();
console.log(counters());
console.log(`buffers not returned to the pool: ${pool.allocated}`);
