/**
 * The server suite's requirements, in the order they run. Each id is stable: CI history, JUnit
 * reports and the mutant catalogue's expectations name them. Sources: seeds 001/002 (routes,
 * fields, targeting), paku-protocol-facts §1–§2 (headers, error bodies, bucketing, MQTT).
 */
import type { Requirement } from '../common/index.js';

const req = (id: string, name: string): Requirement => Object.freeze({ id, name });

export const SRV = Object.freeze({
  health: req('SRV-OPS-001', 'GET /health answers 200 with a JSON object'),
  authMissing: req('SRV-AUTH-001', 'every admin route refuses a request without X-API-Key: 401/403 and a JSON body'),
  authWrong: req('SRV-AUTH-002', 'every admin route refuses a wrong X-API-Key: 401/403 and a JSON body'),
  upload: req('SRV-UPLOAD-001', 'an upload answers 200 with the version, size and SHA-256 of the bytes, and is listed in releases'),
  noRollout: req('SRV-CHECK-005', 'a release with no active rollout is offered to nobody'),
  checkFields: req('SRV-CHECK-001', 'check answers 200 with every FirmwareCheckResponse key, typed, with and without an offer'),
  checkOffer: req('SRV-CHECK-002', 'a targeted device on an older version is offered the rollout\'s release: version, size, SHA-256, URL'),
  sameVersion: req('SRV-CHECK-003', 'a device already on the offered version is not offered it again'),
  downgrade: req('SRV-CHECK-004', 'a device on the newest rollout\'s version is not offered the older release of an older rollout'),
  registers: req('SRV-CHECK-007', 'a check registers the device with its model and version (GET /api/admin/devices)'),
  dlBody: req('SRV-DL-001', 'download answers 200 application/octet-stream, Content-Length = file_size, and that many bytes'),
  dlSha: req('SRV-DL-002', 'the downloaded bytes hash to the offered checksum_sha256'),
  dlHeaders: req('SRV-DL-003', 'X-Checksum-SHA256 is the SHA-256 of the body and X-Firmware-Version the version'),
  dl404: req('SRV-DL-004', 'an unknown version answers 404 with a JSON body'),
  range: req('SRV-RANGE-001', 'Range bytes=a-b, a- and -n answer 206 with Content-Range and exactly those bytes'),
  range416: req('SRV-RANGE-002', 'a Range past the end answers 416 with Content-Range: bytes */size'),
  statusStored: req('SRV-STATUS-001', 'update-status reports are stored and listed by GET /api/admin/update-status'),
  statusVersion: req('SRV-STATUS-002', 'a success report moves the device\'s current_firmware_version'),
  deactivated: req('SRV-CHECK-006', 'a deactivated rollout offers nothing'),
  errDevice: req('SRV-ERR-001', 'bad input on device routes answers 4xx with a JSON body'),
  errAdmin: req('SRV-ERR-002', 'bad input on admin routes answers 4xx with a JSON body'),
  specific: req('SRV-TARGET-001', 'a specific rollout offers its device_ids and nobody else'),
  group: req('SRV-TARGET-003', 'a group rollout offers the devices in any of its groups and nobody else'),
  percent: req('SRV-TARGET-004', 'a canary of p% offers about p% of the model\'s devices and no device of another model'),
  sticky: req('SRV-BUCKET-001', 'canary buckets are sticky: 10% → 25% → 50% only adds devices'),
  stable: req('SRV-BUCKET-002', 'a device gets the same answer on every check at the same percentage'),
  mqttStatus: req('SRV-MQTT-004', 'a device status message with device_model registers the device and its MAC'),
  mac: req('SRV-TARGET-002', 'a specific rollout by mac_addresses offers those devices and nobody else'),
  cmdOta: req('SRV-MQTT-001', 'a rollout publishes cmd/ota {url, version, checksum} to each targeted device on its topic'),
  cmdUntargeted: req('SRV-MQTT-002', 'no cmd/ota reaches a registered device the rollout does not target'),
  results: req('SRV-MQTT-003', 'ota/status, progress and result reports are collected: update-status shows success and failed'),
});

/** Every requirement id of the server suite. */
export const SERVER_REQUIREMENT_IDS: readonly string[] = Object.values(SRV).map((r) => r.id);
