/** Public door of the server's MQTT side: the orchestrator (cmd/ota out) and the collector (replies in). */
export { Orchestrator, type OrchestratorOptions, type OfferResult } from './orchestrator.js';
export {
  Collector, collectorClientId, type CollectorOptions, type CollectorSource, type CollectorSettings, type CollectorHooks, type CollectorStats,
} from './collector.js';
export { topicMatches } from './intake.js';
export { otaCommand, devicePacketBytes, MAX_DEVICE_PACKET_BYTES, type CommandRelease } from './command.js';
export { mapMessage, DEFAULT_MAX_PAYLOAD_BYTES, type Mapped, type Accepted, type Refused, type MessageKind } from './ingest-map.js';
export { realSleep, sleepOn, type Sleep, type CollectorMetrics, type CommandMetrics } from './ports.js';
