import { workerData } from 'node:worker_threads';
import { makeThisThreadRealtime, pinThisThread, setThisThreadNice } from '../../sys/cpu.js';
import { runModel } from './model-loop.js';
import type { SimHandles } from './sim-nic.js';

// Entry point of the simulated NIC's worker thread.
const h = workerData as SimHandles;
if (h.cpu !== undefined && h.cpu >= 0) pinThisThread(h.cpu);
if (h.realtime && !makeThisThreadRealtime(50)) throw new Error('SCHED_FIFO refused for the simulated NIC thread: run as root (CAP_SYS_NICE)');
if (h.nice !== undefined && !setThisThreadNice(h.nice)) throw new Error(`nice ${h.nice} refused for the simulated NIC thread: run as root (CAP_SYS_NICE)`);
runModel(h);
