/** The file is not a trace.dat this reader can read, or stops early: `offset` is where. */
export class DatError extends Error {
  constructor(message: string, readonly offset?: number) {
    super(message);
  }
}
