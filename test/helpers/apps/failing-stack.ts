/** A test stack app whose `create` fails: the runtime must close what it opened and say so in one line. */
import { defineStackApp, IxyError } from 'ixy.ts';

export default defineStackApp({
  create: (ctx) => {
    if (ctx.thread === ctx.threads - 1) throw new IxyError(`thread ${ctx.thread} refuses to start`, 'ETESTREFUSE');
    return { finished: false, start() {}, onEvents() {} };
  },
});
