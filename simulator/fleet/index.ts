/**
 * simulator/fleet: thousands of virtual ESP32s in one process. Identities from (prefix, index), a
 * composition file, shards, the ramp, the runner (one clock, one dispatcher, one image pool), the
 * NDJSON events, live progress and the summary.
 */
export * from './identity.js';
export * from './shard.js';
export * from './composition.js';
export * from './states.js';
export * from './stats.js';
export { parseRate, ramp } from './ramp.js';
export { EventSink, type FleetEvent } from './events.js';
export { FleetDispatcher } from './dispatcher.js';
export { Fleet, type FleetOptions } from './runner.js';
export { startProgress, countsLine, type Progress, type ProgressOut, type ProgressSource } from './progress.js';
export { runFleet, type RunIo, type RunOptions } from './run.js';
export { claimShard, claimKey, fleetKey, type ShardClaim } from './shard-claim.js';
