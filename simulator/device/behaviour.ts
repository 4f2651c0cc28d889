/**
 * Behaviour profiles: the choices that make one device firmware differ from another, kept as data so
 * a new profile (issue 4 names a later `paku-core` one) is a new row, not new branches. Pure.
 */
import type { Behaviour } from './config.js';

export interface BehaviourRules {
  /** QoS of the `cmd/ota` subscription (esp-mqtt can take 1; PubSubClient only 0). */
  readonly subscribeQos: 0 | 1;
  /** A PENDING_VERIFY image runs a self-test before confirming itself (else it confirms at once). */
  readonly selfTest: boolean;
  /** A cut download resumes with `Range` (else the attempt fails at the first cut). */
  readonly resume: boolean;
  /** The app stops its MQTT client before `esp_restart` (no LWT on a planned reboot). */
  readonly gracefulRestart: boolean;
}

export const BEHAVIOUR_RULES: Readonly<Record<Behaviour, BehaviourRules>> = Object.freeze({
  // The ideal esp_https_ota client (esp-idf-ota-facts §5): self-test, Range resume, clean restart.
  'esp-idf': Object.freeze({ subscribeQos: 1, selfTest: true, resume: true, gracefulRestart: true }),
});
