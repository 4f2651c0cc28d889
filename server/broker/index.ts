/** Public door of the embedded broker and the MQTT client port. */
export {
  EmbeddedBroker, type EmbeddedBrokerOptions, type BrokerAddress, type InterceptedPublish, type PublishInterceptor,
} from './embedded-broker.js';
export { duplexPair } from './duplex-pair.js';
export { type MqttClientFactory, type ClientSetup, urlClientFactory, whenConnected, endClient } from './clients.js';
