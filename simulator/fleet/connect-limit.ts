/**
 * A fleet-wide cap on MQTT connect attempts. After a broker outage every device reconnects on its
 * own jittered backoff; the cap is the fleet's guarantee on top of that, so a restarted broker sees
 * at most `perSecond` CONNECTs a second however the backoffs line up. Attempts wait in one queue,
 * served in the order asked, one every 1000/perSecond ms of the fleet's clock; one timer serves
 * it, so an event loop that stalls delays the queue but never releases a burst.
 */
import type { Clock } from '../../protocol/clock.js';
import { ConfigError } from '../../protocol/errors.js';
import type { MqttConnector } from '../device/ports.js';

/** Wrap `connector` so that attempts start at most `perSecond` a second on `clock`. */
export function limitConnects(connector: MqttConnector, clock: Clock, perSecond: number): MqttConnector {
  if (!(perSecond > 0) || !Number.isFinite(perSecond)) throw new ConfigError(`connect rate ${perSecond} must be a finite number > 0 per second`);
  const gap = 1000 / perSecond;
  const queue: Array<() => void> = [];
  let last = -Infinity;
  let armed = false;
  const pump = (): void => {
    armed = false;
    const now = clock.now();
    if (queue.length > 0 && now - last >= gap) {
      last = now;
      (queue.shift() as () => void)();
    }
    if (queue.length > 0) {
      armed = true;
      clock.setTimer({ delay: Math.max(0, last + gap - now) }, pump);
    }
  };
  return (options) => new Promise<void>((resolve) => {
    queue.push(resolve);
    if (!armed) pump();
  }).then(() => connector(options));
}
