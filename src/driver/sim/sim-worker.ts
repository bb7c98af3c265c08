import { workerData } from 'node:worker_threads';
import { pinThisThread } from '../../sys/cpu.js';
import { runModel } from './model-loop.js';
import type { SimHandles } from './sim-nic.js';

// Entry point of the simulated NIC's worker thread.
const h = workerData as SimHandles;
if (h.cpu !== undefined && h.cpu >= 0) pinThisThread(h.cpu);
runModel(h);
