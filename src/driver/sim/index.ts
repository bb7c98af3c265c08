/**
 * ixy.ts/sim: devices for tests without hardware or root. The simulated 82599 (`SimNic.start()`, then `sim:0`,
 * `sim:1` open like any device: the unmodified ixgbe driver runs on the model) and an in-memory wire that joins two
 * mempools as two devices. The test-frame format is what the simulated testers send and check.
 *
 * @module ixy.ts/sim
 */
import '../index.js';
export { SimNic, type SimHandles, type SimNicOptions, type SimWiring, type TesterSnapshot } from './sim-nic.js';
export { type MemoryEnd, memoryWire } from '../memory/memory-wire.js';
export { buildTestFrame, isTestFrame, TEST_FRAME_LEN, type TestFrameOptions } from '../../util/test-frame.js';
