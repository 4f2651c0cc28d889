/** What the HTTP app is built from: ports passed in (STYLE.md §2). */
import type { Logger } from 'pino';
import type { ServerConfig } from '../config.js';
import type { RolloutRow, Store } from '../store/store.js';
import type { ArtifactStore } from '../store/artifacts.js';
import type { ServerMetrics } from './metrics.js';
import type { RolloutEngine } from '../rollout/engine.js';

export interface HttpDeps {
  readonly store: Store;
  readonly artifacts: ArtifactStore;
  readonly config: ServerConfig;
  readonly logger: Logger;
  readonly metrics: ServerMetrics;
  /**
   * Called after a rollout is created or changed, without waiting: the MQTT orchestrator offers
   * it to the targeted devices. A rejection is logged, never turned into an HTTP error.
   */
  readonly onRolloutChange?: (rollout: RolloutRow) => void | Promise<void>;
  /** The rollout engine behind `/api/admin/plans` (resolves once it has started); no plan routes without it. */
  readonly plans?: () => Promise<RolloutEngine>;
  /** PEM key and certificate: serve HTTPS. Default plain HTTP. */
  readonly tls?: { readonly key: Buffer; readonly cert: Buffer };
  /** Monotonic milliseconds for cache expiry; default `performance.now`. */
  readonly now?: () => number;
}
