/**
 * A fleet-wide cap on MQTT connect attempts. After a broker outage every device reconnects on its
 * own jittered backoff; the cap is the fleet's guarantee on top of that, so a restarted broker sees
 * at most `perSecond` CONNECTs a second however the backoffs line up. Attempts are spaced evenly
 * (one every 1000/perSecond ms of the fleet's clock, no burst) and served in the order asked.
 */
import type { Clock } from '../../protocol/clock.js';
import { ConfigError } from '../../protocol/errors.js';
import type { MqttConnector } from '../device/ports.js';

/** Wrap `connector` so that attempts start at most `perSecond` a second on `clock`. */
export function limitConnects(connector: MqttConnector, clock: Clock, perSecond: number): MqttConnector {
  if (!(perSecond > 0) || !Number.isFinite(perSecond)) throw new ConfigError(`connect rate ${perSecond} must be a finite number > 0 per second`);
  const gap = 1000 / perSecond;
  let next = -Infinity;
  return (options) => {
    const now = clock.now();
    const at = Math.max(now, next);
    next = at + gap;
    if (at <= now) return connector(options);
    return new Promise<void>((resolve) => clock.setTimer({ delay: at - now }, () => resolve())).then(() => connector(options));
  };
}
