/**
 * simulator/device: the virtual ESP32's OTA firmware. The pure machine (`transition`,
 * `initialState`), its contract (types), configuration, reports and failure reasons; the runtime
 * that binds it to MQTT, HTTP, the clock and the emulated chip lives beside it.
 */
export * from './types.js';
export { BEHAVIOURS, Backoff, DeviceConfigSchema, parseDeviceConfig, type Behaviour } from './config.js';
export { BEHAVIOUR_RULES, type BehaviourRules, type ProgressStateName } from './behaviour.js';
export { handlerFor, initialState, transition, transitions } from './machine.js';
export { FAILURE_REASONS, failureInfo, resultMessage, type FailureReason } from './reasons.js';
export { deviceTopics, edgeStatus, OFFLINE_PAYLOAD, reportEffects, type Report } from './report.js';
export { IMAGE_HEADER_BYTES } from './download.js';
export { backoffDelay } from './backoff.js';
export { compareVersions, isNewer } from '../../protocol/versions.js';
export { deviceTimestamp } from './wall-clock.js';
