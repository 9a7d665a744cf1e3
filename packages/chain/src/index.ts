// @roadwork/chain: subtensor access through @polkadot/api. Importing it loads @polkadot/api and sets only the
// duplicate-package warning flag (see polkadot-env.ts).
import "./polkadot-env.ts";

export { AxonAnnouncer, type AxonAnnouncerOptions } from "./axon-announcer.ts";
export { type ChainSession, type ChainSessionOptions, startChainSession } from "./chain-session.ts";
export {
  type ConnectOptions,
  connectSubtensor,
  ENDPOINTS,
  type ReconnectPolicy,
  type SubtensorConnection,
} from "./connection.ts";
export { type ChainIp, chainIpProblem, ipToString, parseIp } from "./ip.ts";
export { type ChainLogger, silentLogger, stderrLogger } from "./logger.ts";
export {
  type AxonInfo,
  ChainDataError,
  decodeRuntimeApiResult,
  type Hyperparameters,
  normaliseHotkey,
  type ReadOptions,
  readAxon,
  readHead,
  readHyperparameters,
  readMetagraph,
  readOwnUid,
  SS58_PREFIX,
} from "./metagraph-reader.ts";
export {
  MetagraphSnapshot,
  type MetagraphSnapshotData,
  MetagraphSnapshotSchema,
  type SnapshotNeuron,
} from "./metagraph-snapshot.ts";
export {
  type MetagraphChange,
  type MetagraphSource,
  MetagraphWatcher,
  type MetagraphWatcherOptions,
} from "./metagraph-watcher.ts";
export { type MinerStatus, readMinerStatus } from "./miner-status.ts";
export { decidePause, NOT_PAYING, type PauseAction, PulseRecord, resumedRecord } from "./pause-policy.ts";
export { RUNTIME_API_RESULTS, registerSubtensorTypes, SUBTENSOR_RUNTIME_TYPES } from "./runtime-types.ts";
export {
  AXON_PROTOCOL,
  BLOCK_SECONDS,
  type DesiredAxon,
  describeDispatchError,
  type EncodedServeAxon,
  type EnsureServingResult,
  encodeServeAxon,
  ensureServing,
  planServeAxon,
  type RateLimitStatus,
  ServeAxonError,
  type ServeAxonParams,
  type ServePlan,
  serveParams,
  servingRateLimitStatus,
  submitServeAxon,
  versionAsInt,
} from "./serve-axon.ts";
export { checkSignedExtensions, type SignedExtensionCheck, SUBTENSOR_SIGNED_EXTENSIONS } from "./signed-extensions.ts";
export {
  BURN_SHARE,
  classifyPulse,
  PULSE_STATES,
  type PulseInput,
  type PulseState,
  readSubnetPulse,
  type SubnetPulse,
} from "./subnet-pulse.ts";
export { ChainTimeoutError, withTimeout } from "./timeout.ts";
