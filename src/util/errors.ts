/**
 * An error the user can fix: its message is one line that says what is wrong and how to fix it.
 * The CLI prints `ixy: <message>` for these and exits non-zero without a stack trace.
 */
export class IxyError extends Error {
  override readonly name: string = 'IxyError';
  constructor(message: string, readonly code: string = 'EIXY') {
    super(message);
  }
}

/** A rule of the hardware broken by the driver, as reported by the simulated NIC. */
export class SimFault extends IxyError {
  override readonly name: string = 'SimFault';
  constructor(message: string) {
    super(message, 'ESIMFAULT');
  }
}
