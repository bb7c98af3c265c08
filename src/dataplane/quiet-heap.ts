import { setFlagsFromString } from 'node:v8';

/**
 * V8 settings for a process whose threads run dataplane loops. V8's memory reducer starts full collections
 * ("Mark-Compact (reduce)", 15–30 ms pauses seen here) a few seconds after a thread's allocation rate drops, to give
 * memory back; a loop that allocates almost nothing triggers exactly that. The flag is process-wide and read when a
 * heap is set up: call it before the dataplane's workers start (it comes too late for the thread that calls it:
 * run single-threaded apps as `node --no-memory-reducer --min-semi-space-size=16 …` for the same effect).
 * The young generation is kept large too: the loop's only garbage is one Immediate per 1 ms slice (~150–350 KB/s),
 * and without a floor V8 shrinks the semi-space to 1 MB once allocation is that slow (a scavenge every few seconds).
 */
export function quietHeap(): void {
  setFlagsFromString('--no-memory-reducer');
  setFlagsFromString(`--min-semi-space-size=${DATAPLANE_YOUNG_MB / 4}`);
}

/** Young generation for a dataplane worker: room for the few objects each yield to the event loop allocates. */
export const DATAPLANE_YOUNG_MB = 64;
