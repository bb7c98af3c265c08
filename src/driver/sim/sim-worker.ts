import { workerData } from 'node:worker_threads';
import { runModel } from './model-loop.js';
import type { SimHandles } from './sim-nic.js';

// Entry point of the simulated NIC's worker thread.
runModel(workerData as SimHandles);
