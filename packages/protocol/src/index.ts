// @roadwork/protocol: the Bittensor axon wire protocol for StreetVision's ImageSynapse (docs/protocol.md).
export {
  checkBodyHash,
  decodeImageField,
  decodeImageFieldSliced,
  decodeStrictBase64,
  IMAGE_SLICE_CHARS,
  ImageSynapseSchema,
  isJsonContentType,
  type ParsedSynapseBody,
  parseSynapseBody,
  TerminalInfoSchema,
  validateSynapseFields,
} from "./body.ts";
export { BodyBytes, LARGE_BODY_BYTES, parseSynapseBodyBytes } from "./body-bytes.ts";
export {
  ALLOWED_DELTA_NS,
  AVAILABLE_SYNAPSES,
  AXON_VERSION,
  DEFAULT_TIMEOUT_S,
  EMPTY_BODY_HASH,
  MAX_TIMEOUT_S,
  SYNAPSE_NAME,
  sha3Hex,
  TERMINAL_FIELDS,
  versionAsInt,
} from "./constants.ts";
export {
  type AxonTarget,
  type BodyValue,
  type BuildRequestInput,
  Dendrite,
  type DendriteOptions,
  type DendriteRequest,
  type DendriteResult,
  type DendriteSigner,
  readSynapseResponse,
  uuid1,
} from "./dendrite.ts";
export { blacklisted, notVerified, ProtocolError, ProtocolErrorWithBody, unknownSynapse } from "./errors.ts";
export {
  type AxonHeaders,
  clampTimeout,
  type DendriteHeaders,
  parseRequestHeaders,
  type RequestHeaders,
} from "./headers.ts";
export {
  isJsonObject,
  JsonNumber,
  type JsonObject,
  JsonSyntaxError,
  type JsonValue,
  parseJson,
  stringifyCompact,
  stringifyPython,
  toPlain,
} from "./json-bigint.ts";
export { NonceStore, type NonceStoreOptions } from "./nonce-store.ts";
export { type CastResult, formatPyFloat, pyFloat, pyInt } from "./python-casts.ts";
export {
  type AxonResponse,
  type ErrorContext,
  errorResponse,
  protocolErrorResponse,
  type SuccessInput,
  sanitizeHeaderValue,
  successResponse,
} from "./response.ts";
export {
  decodeSignatureHex,
  ensureCryptoReady,
  publicKeyOf,
  SignatureFormatError,
  verifySignature,
  verifySignatureBytes,
} from "./signature.ts";
export {
  defaultPoolSize,
  inlineSignatureVerifier,
  type SignatureVerifier,
  SignatureVerifierPool,
  type SignatureVerifierPoolOptions,
  sharedSignatureVerifierPool,
  VerifierUnavailableError,
} from "./verifier-pool.ts";
export {
  requireDendriteHotkey,
  signedMessage,
  type VerifyContext,
  verifyRequest,
  verifyRequestAsync,
} from "./verify.ts";
