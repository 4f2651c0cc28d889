/** The server conformance suite (`otasim certify server`). */
export { certifyServer, type CertifyServerOptions } from './run.js';
export { SRV, SERVER_REQUIREMENT_IDS } from './requirements.js';
