/**
 * MQTT topic names for the OTA protocol, for both wire profiles.
 *
 * - `paku-edge` (default): what real paku-core firmware ≥ 1.4.2 uses — command on
 *   `{prefix}/edge/{id}/cmd/ota`, replies on `{prefix}/edge/{id}/ota/{status|progress|result}`
 *   (paku-protocol-facts §1.2, OTA_TOPIC_MIGRATION_COMPLETE.md).
 * - `paku-legacy`: the seeds' documented layout (seed 003, firmware ≤ 1.3.0) — command on
 *   `{prefix}/devices/{id}/cmd/ota`, replies on `{prefix}/devices/{id}/ota/{…}`.
 *
 * In both profiles the device status / boot announcement and its LWT go to
 * `{prefix}/edge/{id}/status` (paku-protocol-facts §1.7, seed 003 "Current").
 * Pure: no I/O.
 */

/** The wire profiles otasim speaks. */
export const PROTOCOL_PROFILES = ['paku-edge', 'paku-legacy'] as const;
export type ProtocolProfile = (typeof PROTOCOL_PROFILES)[number];

/** Default topic prefix (paku-protocol-facts §1.9: level 1 of every topic is `paku`). */
export const DEFAULT_TOPIC_PREFIX = 'paku';
export const DEFAULT_PROFILE: ProtocolProfile = 'paku-edge';

/** The three device → server OTA reply kinds (the last topic level). */
export const OTA_REPLY_KINDS = ['status', 'progress', 'result'] as const;
export type OtaReplyKind = (typeof OTA_REPLY_KINDS)[number];

/** A parsed device → server topic. */
export type ParsedTopic =
  | { kind: 'ota'; reply: OtaReplyKind; deviceId: string }
  | { kind: 'edge-status'; deviceId: string };

/** Topic names for one (prefix, profile). */
export interface Topics {
  readonly prefix: string;
  readonly profile: ProtocolProfile;
  /** Server → device OTA command (QoS 1 from the server; the device subscribes at QoS 0). */
  cmdOta(deviceId: string): string;
  /** Device → server OTA reply topic. */
  otaReply(deviceId: string, reply: OtaReplyKind): string;
  /** Device status / boot announcement / LWT (retained). */
  edgeStatus(deviceId: string): string;
  /** Subscription filter covering every OTA reply of every device. */
  readonly otaReplyFilter: string;
  /** Subscription filter covering every device status message. */
  readonly edgeStatusFilter: string;
  /** Parse an incoming topic; `undefined` for topics that are not OTA replies or edge status. */
  parse(topic: string): ParsedTopic | undefined;
}

/** Level-2 segment under which each profile puts the device's OTA command and replies. */
const OTA_SEGMENT: Record<ProtocolProfile, string> = { 'paku-edge': 'edge', 'paku-legacy': 'devices' };

/** MQTT forbids wildcards in published topic levels; a `/` would shift levels. */
function checkLevel(what: string, value: string): string {
  if (value.length === 0 || /[/+#]/.test(value) || value.includes('\0')) {
    throw new TypeError(`${what} ${JSON.stringify(value)} is not a valid MQTT topic level`);
  }
  return value;
}

/**
 * Topic names for a prefix (default `paku`) and profile (default `paku-edge`).
 * A prefix may itself span levels (`site/a`); it must not contain wildcards.
 */
export function topics(opts: { prefix?: string; profile?: ProtocolProfile } = {}): Topics {
  const prefix = opts.prefix ?? DEFAULT_TOPIC_PREFIX;
  const profile = opts.profile ?? DEFAULT_PROFILE;
  if (prefix.length === 0 || /[+#]/.test(prefix) || prefix.includes('\0') || prefix.startsWith('/') || prefix.endsWith('/')) {
    throw new TypeError(`topic prefix ${JSON.stringify(prefix)} must be non-empty, without wildcards or edge slashes`);
  }
  const seg = OTA_SEGMENT[profile];
  const prefixLevels = prefix.split('/').length;
  return {
    prefix,
    profile,
    cmdOta: (id) => `${prefix}/${seg}/${checkLevel('device id', id)}/cmd/ota`,
    otaReply: (id, reply) => `${prefix}/${seg}/${checkLevel('device id', id)}/ota/${reply}`,
    edgeStatus: (id) => `${prefix}/edge/${checkLevel('device id', id)}/status`,
    otaReplyFilter: `${prefix}/${seg}/+/ota/#`,
    edgeStatusFilter: `${prefix}/edge/+/status`,
    parse(topic) {
      if (!topic.startsWith(`${prefix}/`)) return undefined;
      const rest = topic.split('/').slice(prefixLevels);
      const [segment, deviceId, a, b, ...extra] = rest;
      if (deviceId === undefined || deviceId.length === 0 || extra.length > 0) return undefined;
      if (segment === 'edge' && a === 'status' && b === undefined) return { kind: 'edge-status', deviceId };
      // paku-iot collector.py: any other ota/<sub> is ignored (paku-protocol-facts §1.9).
      if (segment === seg && a === 'ota' && (OTA_REPLY_KINDS as readonly string[]).includes(b ?? '')) {
        return { kind: 'ota', reply: b as OtaReplyKind, deviceId };
      }
      return undefined;
    },
  };
}
