/**
 * The broker suite on `container:` brokers (testcontainers). Where no Docker engine runs, each
 * suite skips with a one-line notice, and the provider is held to its promise instead: a typed
 * `OTASIM_ERR_NO_DOCKER` error whose message is one line starting "no Docker engine:".
 */
import { describe, expect, it } from 'vitest';
import { CONTAINER_IMAGES, dockerUnavailable, openBroker } from '../../harness/brokers/index.js';
import { providerSuite } from './broker-suite.js';

const noDocker = await dockerUnavailable();
if (noDocker !== null) process.stderr.write(`brokers: no Docker engine (${noDocker}); container broker suites skip\n`);

const specs = CONTAINER_IMAGES.map((i) => `container:${i.names[0]}`);

describe.each(specs)('broker provider: %s', (spec) => {
  describe.skipIf(noDocker !== null)('in Docker', () => {
    providerSuite(() => openBroker(spec));
  });

  it.skipIf(noDocker === null)('without a Docker engine, rejects with one line: "no Docker engine: …"', async () => {
    const error = await openBroker(spec).then(() => null, (e: unknown) => e);
    expect(error).toMatchObject({ name: 'BrokerError', code: 'OTASIM_ERR_NO_DOCKER' });
    const message = (error as Error).message;
    expect(message.startsWith(`no Docker engine: ${spec} needs one`)).toBe(true);
    expect(message).not.toContain('\n');
  });
});
