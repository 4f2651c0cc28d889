/**
 * TLS for a fleet (`--ca FILE`): the CA the fleet trusts for https:// servers and mqtts:// brokers,
 * and a check before any device starts, so a certificate the fleet does not trust fails the run
 * once, with one typed line, instead of as thousands of devices silently retrying their connects.
 */
import type { Dispatcher } from 'undici';
import { OtasimError } from '../../protocol/errors.js';
import type { MqttConnector } from '../device/ports.js';

/** Node's codes for a peer certificate that does not verify. */
const UNTRUSTED = new Set([
  'SELF_SIGNED_CERT_IN_CHAIN', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID', 'CERT_UNTRUSTED', 'CERT_SIGNATURE_FAILURE',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/** The certificate error somewhere in `e`'s cause chain, if any. */
function certificateError(e: unknown): { code: string; message: string } | null {
  for (let x: unknown = e, depth = 0; x instanceof Error && depth < 5; x = x.cause, depth++) {
    const code = (x as { code?: unknown }).code;
    if (typeof code === 'string' && UNTRUSTED.has(code)) return { code, message: x.message };
  }
  return null;
}

function untrusted(what: string, url: string, cert: { code: string; message: string }, ca: boolean): OtasimError {
  return new OtasimError('OTASIM_ERR_TLS_UNTRUSTED', `${what} ${url} presents a certificate this fleet does not trust (${cert.code}: ${cert.message}); `
    + (ca ? 'the --ca file did not sign it, or it does not name this host' : 'pass --ca FILE with the CA that signed it'));
}

/**
 * Fail with `OTASIM_ERR_TLS_UNTRUSTED` when `serverUrl` (https) or the broker (mqtts/wss, through
 * `connector`) presents a certificate that does not verify. Other failures (refused, unreachable)
 * are left to the devices, which retry them as real ones do.
 */
export async function checkTrust(o: {
  readonly serverUrl: string; readonly http: Dispatcher; readonly brokerUrl: string | null; readonly connector: MqttConnector; readonly ca: boolean;
}): Promise<void> {
  if (o.serverUrl.startsWith('https:')) {
    try {
      const res = await o.http.request({ origin: new URL(o.serverUrl).origin, path: '/health', method: 'GET' });
      await res.body.dump();
    } catch (e) {
      const cert = certificateError(e);
      if (cert !== null) throw untrusted('the OTA server', o.serverUrl, cert, o.ca);
    }
  }
  if (o.brokerUrl !== null && /^(mqtts|wss|tls):/.test(o.brokerUrl)) {
    try {
      const client = await o.connector({ clientId: `otasim-tls-check-${process.pid}`, reconnectPeriod: 0, connectTimeout: 10_000 });
      await client.endAsync();
    } catch (e) {
      const cert = certificateError(e);
      if (cert !== null) throw untrusted('the MQTT broker', o.brokerUrl, cert, o.ca);
    }
  }
}
