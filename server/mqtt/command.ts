/**
 * The `cmd/ota` payload for a release, and the device's size limit on it. Pure.
 *
 * Shape: exactly the three keys the paku-iot workflow sends, `{url, version, checksum}`, with the
 * download URL carrying `device_model` (paku-protocol-facts §1.3, §2.8 step 6), which is also
 * the seeds' legacy command (seed 003 Phase 4: "Publishes OTA commands to …/cmd/ota").
 */
import type { CanonicalCommand } from '../../protocol/profiles.js';

/**
 * Largest MQTT packet the device accepts, in bytes: paku-core calls PubSubClient
 * `setBufferSize(1024)`, and PubSubClient drops an incoming packet longer than its buffer
 * (paku-protocol-facts §1.1).
 */
export const MAX_DEVICE_PACKET_BYTES = 1024;

/** What a command needs to know about a release. */
export interface CommandRelease {
  version: string;
  device_model: string;
  /** Lower-case SHA-256 hex of the image (the device verifies it, §4.6). */
  checksum_sha256: string;
}

/**
 * The command for `release`, its URL rooted at `downloadBaseUrl` (the server's public base, e.g.
 * `http://10.0.0.5:8080` or `https://example.org/ota`; a trailing `/` is ignored).
 */
export function otaCommand(release: CommandRelease, downloadBaseUrl: string): CanonicalCommand {
  const base = downloadBaseUrl.replace(/\/+$/, '');
  const url = `${base}/api/firmware/download/${encodeURIComponent(release.version)}`
    + `?device_model=${encodeURIComponent(release.device_model)}`;
  return { url, version: release.version, checksum: release.checksum_sha256 };
}

/**
 * Size in bytes of the PUBLISH the device receives for `topic` + `payload`: QoS 0, because the
 * device subscribes at QoS 0 (§1.1), so no packet id. Fixed header byte + remaining-length
 * varint + 2-byte topic length + topic + payload (MQTT 3.1.1 §3.3).
 */
export function devicePacketBytes(topic: string, payload: string): number {
  const remaining = 2 + Buffer.byteLength(topic) + Buffer.byteLength(payload);
  const varint = remaining < 128 ? 1 : remaining < 16_384 ? 2 : remaining < 2_097_152 ? 3 : 4;
  return 1 + varint + remaining;
}
