/**
 * The MQTT session: connect with the LWT `{"online":false}` (retained, QoS 1), subscribe to
 * `cmd/ota`, announce on `edge/{id}/status` (retained), and after a failure reconnect with
 * exponential backoff and seeded jitter (paku-protocol-facts §1.1, §1.7, §4.9). The
 * broker-unreachable fault refuses connects for its window without touching the network. Pure.
 */
import { backoffDelay } from './backoff.js';
import { bootSubject, draw, log, report, rules, running, step, timer, type Ctx } from './kit.js';
import { deviceTopics, edgeStatus, OFFLINE_PAYLOAD } from './report.js';
import { pendingOutcome } from './outcome.js';
import type { DeviceEffect, DeviceEvent, DeviceState, Step } from './types.js';

type E<T extends DeviceEvent['type']> = Extract<DeviceEvent, { type: T }>;

/** Open the session, unless the broker-unreachable fault blocks this moment (then count a failure). */
export function linkConnect(c: Ctx, s: DeviceState): Step {
  const blockedMs = c.dev.faults.brokerBlockedMs(bootSubject(s));
  if (c.now - s.bootAt < blockedMs) return linkFailed(c, s, { type: 'mqtt-failed', reason: 'broker unreachable (fault)' });
  const t = deviceTopics(c.dev.config);
  const id = c.dev.config.deviceId;
  return step({ ...s, link: 'connecting' }, {
    type: 'mqtt-connect', clientId: id, keepaliveS: c.dev.config.keepaliveS, clean: rules(c).cleanSession,
    will: { topic: t.edgeStatus(id), payload: OFFLINE_PAYLOAD, qos: 1, retain: true },
  });
}

/** Connected: subscribe, announce, and send an update outcome NVS still holds. */
export function linkUp(c: Ctx, s: DeviceState): Step {
  const t = deviceTopics(c.dev.config);
  const id = c.dev.config.deviceId;
  const r = running(s);
  const wallMs = c.now + c.dev.faults.clockSkewMs(r.version);
  const up: DeviceState = { ...s, link: 'up', linkFailures: 0 };
  const effects: DeviceEffect[] = [
    log('mqtt connected'),
    { type: 'mqtt-subscribe', topic: t.cmdOta(id), qos: rules(c).subscribeQos },
    {
      type: 'mqtt-publish', topic: t.edgeStatus(id), qos: 0, retain: true,
      payload: edgeStatus({ config: c.dev.config, running: r, wallMs, uptimeS: Math.floor((c.now - s.bootAt) / 1000) }, 'running'),
    },
  ];
  // Only an outcome left by an earlier boot: a reconnect in the middle of this boot's update (a
  // broker or server restart during the download) is not a reset, and the update goes on.
  const outcome = s.job === null ? pendingOutcome(up) : null;
  if (outcome === null) return step(up, ...effects);
  return step({ ...up, nvs: { ...up.nvs, pending: null } }, ...effects, ...report(c, up, outcome));
}

/** A connect failed or the session dropped: wait a backoff with jitter, then try again. */
export function linkFailed(c: Ctx, s: DeviceState, e: E<'mqtt-failed'> | E<'mqtt-down'>): Step {
  const failures = s.linkFailures + 1;
  const [u, drawn] = draw(c, s, 'mqtt-jitter');
  const delay = backoffDelay(c.dev.config.mqttBackoff, failures, u);
  return step({ ...drawn, link: 'waiting', linkFailures: failures },
    log(`mqtt ${e.type === 'mqtt-down' ? 'lost' : 'connect failed'}: ${e.reason}; retry #${failures} in ${delay} ms`),
    timer('mqtt-retry', delay));
}

/** The backoff is over. */
export function linkRetry(c: Ctx, s: DeviceState): Step {
  if (s.link !== 'waiting') return step(s);
  return linkConnect(c, s);
}
