// Errors that end a request with a definite HTTP status and the message the client sees.

/** A request rejected by the protocol layer. `message` is exactly what goes into the response. */
export class ProtocolError extends Error {
  override readonly name = "ProtocolError";
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/**
 * A rejection whose response body is not `{"message": …}`: FastAPI's 422 for an undecodable JSON body, which a Python
 * axon returns without any bt_header_* headers.
 */
export class ProtocolErrorWithBody extends ProtocolError {
  constructor(
    status: number,
    message: string,
    readonly body: string,
    readonly contentType = "application/json",
  ) {
    super(status, message);
  }
}

/** 401 from the verify stage, with bittensor's prefix. */
export function notVerified(reason: string): ProtocolError {
  return new ProtocolError(401, `Not Verified with error: ${reason}`);
}

/** 404 for a path that names no attached synapse, worded like `UnknownSynapseError`. */
export function unknownSynapse(name: string, available: readonly string[]): ProtocolError {
  const list = `[${available.map((s) => `'${s}'`).join(", ")}]`;
  return new ProtocolError(404, `Synapse name '${name}' not found. Available synapses ${list}`);
}

/** 403 from the blacklist stage, worded like `BlacklistedException` (note the trailing period). */
export function blacklisted(reason: string): ProtocolError {
  return new ProtocolError(403, `Forbidden. Key is blacklisted: ${reason}.`);
}
