/**
 * Two `ixy.ts/net` stacks of this thread on the simulated 82599's two ports, cabled to each other (`wire: 'loop'`):
 * the client on port 0 (`<subnet>.1`), the server on port 1 (`<subnet>.2`). No root, no network.
 */
import { type RunResult } from 'ixy.ts';
import { attach, type AttachOptions, type NetInterface } from 'ixy.ts/net';
import { SimNic } from 'ixy.ts/sim';

export class NetPair {
  private closed: Promise<RunResult[]> | null = null;

  private constructor(readonly nic: SimNic, readonly client: NetInterface, readonly server: NetInterface) {}

  /** `subnet` is three octets, e.g. '10.0.8'. */
  static async open(subnet: string, tcp?: AttachOptions['tcp']): Promise<NetPair> {
    const nic = await SimNic.start({ ports: 2, wire: 'loop', physMiB: 64 });
    SimNic.setCurrent(nic);
    const client = await attach({ device: 'sim:0', ip: `${subnet}.1/24`, tcp });
    const server = await attach({ device: 'sim:1', ip: `${subnet}.2/24`, tcp });
    return new NetPair(nic, client, server);
  }

  /** Closes both stacks, then the NIC; resolves with the two runs' results [client, server] (the same ones again later). */
  close(): Promise<RunResult[]> {
    this.closed ??= Promise.all([this.client.close(), this.server.close()]).then(async (r) => {
      SimNic.setCurrent(null);
      await this.nic.stop();
      return r;
    });
    return this.closed;
  }
}
