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
  /** Subscription filter covering every device's OTA command (what a device, a spy or a certifier listens on). */
  readonly cmdOtaFilter: string;
  /** Subscription filter covering every OTA reply of every device. */
  readonly otaReplyFilter: string;
  /** Subscription filter covering every device status message. */
  readonly edgeStatusFilter: string;
  /** Parse an incoming topic; `undefined` for topics that are not OTA replies or edge status. */
  parse(topic: string): ParsedTopic | undefined;
}

/**
 * Where one profile puts its topics, as templates over `{prefix}`, `{id}` and `{reply}`. The
 * prefix is always the first part and `{reply}` the last level; `{id}` is one level.
 */
export interface TopicTemplates {
  /** Server → device OTA command. */
  readonly cmdOta: string;
  /** Device → server OTA reply; `{reply}` is `status`, `progress` or `result`. */
  readonly otaReply: string;
  /** Device status / boot announcement / LWT. */
  readonly edgeStatus: string;
}

/**
 * Each profile's topic layout: real firmware moved the command and replies from `devices` to
 * `edge` in 1.4.1/1.4.2 (OTA_TOPIC_MIGRATION_COMPLETE.md, paku-protocol-facts §1.2); status stayed.
 */
export const TOPIC_TEMPLATES: Readonly<Record<ProtocolProfile, TopicTemplates>> = Object.freeze({
  'paku-edge': Object.freeze({
    cmdOta: '{prefix}/edge/{id}/cmd/ota', otaReply: '{prefix}/edge/{id}/ota/{reply}', edgeStatus: '{prefix}/edge/{id}/status',
  }),
  'paku-legacy': Object.freeze({
    cmdOta: '{prefix}/devices/{id}/cmd/ota', otaReply: '{prefix}/devices/{id}/ota/{reply}', edgeStatus: '{prefix}/edge/{id}/status',
  }),
});

/** MQTT forbids wildcards in published topic levels; a `/` would shift levels. */
function checkLevel(what: string, value: string): string {
  if (value.length === 0 || /[/+#]/.test(value) || value.includes('\0')) {
    throw new TypeError(`${what} ${JSON.stringify(value)} is not a valid MQTT topic level`);
  }
  return value;
}

/** The levels of a template after `{prefix}/`. */
function levelsOf(template: string): string[] {
  return template.split('/').slice(1);
}

/** Fill a template's placeholders. */
function fill(template: string, values: Readonly<Record<string, string>>): string {
  return template.replace(/\{(\w+)\}/g, (_, k: string) => values[k] ?? `{${k}}`);
}

/** Match `levels` against a template's levels; the captured placeholders, or undefined. */
function match(template: readonly string[], levels: readonly string[]): Record<string, string> | undefined {
  if (template.length !== levels.length) return undefined;
  const out: Record<string, string> = {};
  for (let i = 0; i < template.length; i++) {
    const t = template[i] as string;
    const l = levels[i] as string;
    const hole = /^\{(\w+)\}$/.exec(t);
    if (hole === null) {
      if (t !== l) return undefined;
    } else {
      if (l.length === 0) return undefined;
      out[hole[1] as string] = l;
    }
  }
  return out;
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
  const t = TOPIC_TEMPLATES[profile];
  if (t === undefined) throw new TypeError(`unknown protocol profile ${JSON.stringify(profile)}; use ${PROTOCOL_PROFILES.join(' or ')}`);
  const prefixLevels = prefix.split('/').length;
  const replyLevels = levelsOf(t.otaReply);
  const statusLevels = levelsOf(t.edgeStatus);
  return {
    prefix,
    profile,
    cmdOta: (id) => fill(t.cmdOta, { prefix, id: checkLevel('device id', id) }),
    otaReply: (id, reply) => fill(t.otaReply, { prefix, id: checkLevel('device id', id), reply }),
    edgeStatus: (id) => fill(t.edgeStatus, { prefix, id: checkLevel('device id', id) }),
    cmdOtaFilter: fill(t.cmdOta, { prefix, id: '+' }),
    otaReplyFilter: fill(t.otaReply, { prefix, id: '+', reply: '#' }),
    edgeStatusFilter: fill(t.edgeStatus, { prefix, id: '+' }),
    parse(topic) {
      if (!topic.startsWith(`${prefix}/`)) return undefined;
      const rest = topic.split('/').slice(prefixLevels);
      const status = match(statusLevels, rest);
      if (status?.id !== undefined) return { kind: 'edge-status', deviceId: status.id };
      // paku-iot collector.py: any other ota/<sub> is ignored (paku-protocol-facts §1.9).
      const reply = match(replyLevels, rest);
      if (reply?.id !== undefined && (OTA_REPLY_KINDS as readonly string[]).includes(reply.reply ?? '')) {
        return { kind: 'ota', reply: reply.reply as OtaReplyKind, deviceId: reply.id };
      }
      return undefined;
    },
  };
}
