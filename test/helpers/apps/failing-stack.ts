/**
 * A test stack app that fails: in `create` on the last thread (the runtime must close what the other threads opened),
 * or in `start` (the run must end with that error and close its device).
 */
import { defineStackApp, IxyError } from 'ixy.ts';

export default defineStackApp({
  create: (ctx, o: { failIn?: 'create' | 'start' }) => {
    if ((o?.failIn ?? 'create') === 'create' && ctx.thread === ctx.threads - 1) throw new IxyError(`thread ${ctx.thread} refuses to start`, 'ETESTREFUSE');
    return {
      finished: false,
      start() { if (o?.failIn === 'start') throw new IxyError('the app cannot start', 'ETESTSTART'); },
      onEvents() {},
    };
  },
});
