/**
 * What the embedded broker keeps across a restart of the server process, as a real broker does
 * (Mosquitto `persistence true`: saved at shutdown and read at start): the sessions of clients that
 * connected with clean session false (their subscriptions and the QoS 1 messages queued for them,
 * delivered or not) and the retained messages. Without it a server restart lost every session, so
 * a `cmd/ota` published before a device reconnected went to nobody (MQTT 3.1.1 §3.1.2.4).
 *
 * Like Mosquitto with its default `autosave_interval`, the file is written when the broker closes:
 * a killed process keeps what the last clean shutdown saved. Clean-session clients have nothing to
 * keep: aedes never persists their subscriptions.
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Readable } from 'node:stream';
import { z } from 'zod';
import { IndexedRetained, type StoredSubscription } from './retained-index.js';

/** A packet as stored: the payload in base64. */
const StoredPacket = z.object({
  cmd: z.literal('publish'),
  topic: z.string(),
  payload: z.string(),
  qos: z.union([z.literal(0), z.literal(1), z.literal(2)]),
  retain: z.boolean(),
  dup: z.boolean().optional(),
  brokerId: z.string().optional(),
  brokerCounter: z.number().optional(),
});
type StoredPacket = z.infer<typeof StoredPacket>;

/** The file's content, version 1. */
const Snapshot = z.object({
  version: z.literal(1),
  saved_at: z.string(),
  retained: z.array(StoredPacket),
  sessions: z.array(z.object({
    client_id: z.string(),
    subscriptions: z.array(z.object({ topic: z.string(), qos: z.number().int().min(0).max(2), rh: z.number().optional(),
      rap: z.boolean().optional(), nl: z.boolean().optional() })),
    outgoing: z.array(StoredPacket),
  })),
});
export type BrokerSnapshot = z.infer<typeof Snapshot>;

interface LivePacket {
  cmd?: string;
  topic: string;
  payload: Buffer | string;
  qos: 0 | 1 | 2;
  retain?: boolean;
  dup?: boolean;
  brokerId?: string;
  brokerCounter?: number;
}

function toStored(p: LivePacket): StoredPacket {
  return {
    cmd: 'publish', topic: p.topic, payload: Buffer.from(p.payload).toString('base64'), qos: p.qos, retain: p.retain === true,
    ...(p.dup === undefined ? {} : { dup: p.dup }),
    ...(p.brokerId === undefined ? {} : { brokerId: p.brokerId }), ...(p.brokerCounter === undefined ? {} : { brokerCounter: p.brokerCounter }),
  };
}

function toLive(p: StoredPacket): LivePacket {
  return { ...p, payload: Buffer.from(p.payload, 'base64') };
}

async function collect<T>(stream: Readable): Promise<T[]> {
  const out: T[] = [];
  for await (const x of stream) out.push(x as T);
  return out;
}

/** The memory persistence, indexed as {@link IndexedRetained}, that also knows which clients hold a session. */
export class DurablePersistence extends IndexedRetained {
  /** Client ids that may hold a persistent session (a superset: one emptied by unsubscribes is skipped at save). */
  readonly #sessions = new Set<string>();

  override async addSubscriptions(client: { id: string }, subs: StoredSubscription[]): Promise<void> {
    await super.addSubscriptions(client, subs);
    this.#sessions.add(client.id);
  }

  override async cleanSubscriptions(client: { id: string }): Promise<void> {
    await super.cleanSubscriptions(client);
    this.#sessions.delete(client.id);
  }

  /** Everything a restart must keep, as plain JSON. */
  async snapshot(now: Date): Promise<BrokerSnapshot> {
    const retained = (await collect<LivePacket>(this.createRetainedStream('#'))).map(toStored);
    const sessions: BrokerSnapshot['sessions'] = [];
    for (const id of [...this.#sessions].sort()) {
      const subscriptions = await this.subscriptionsByClient({ id });
      if (subscriptions.length === 0) continue;
      const outgoing = (await collect<LivePacket>(this.outgoingStream({ id }))).filter((p) => p.cmd === undefined || p.cmd === 'publish').map(toStored);
      sessions.push({ client_id: id, subscriptions: subscriptions.map(({ topic, qos, rh, rap, nl }) => ({ topic, qos,
        ...(rh === undefined ? {} : { rh }), ...(rap === undefined ? {} : { rap }), ...(nl === undefined ? {} : { nl }) })), outgoing });
    }
    return { version: 1, saved_at: now.toISOString(), retained, sessions };
  }

  /** Load a snapshot into this (empty, not yet started) persistence. */
  async restore(s: BrokerSnapshot): Promise<void> {
    for (const p of s.retained) await this.storeRetained(toLive(p));
    for (const session of s.sessions) {
      await this.addSubscriptions({ id: session.client_id }, session.subscriptions);
      for (const p of session.outgoing) await this.outgoingEnqueue({ clientId: session.client_id }, toLive(p));
    }
  }
}

/** Counts of what a snapshot holds, for logs. */
export function snapshotCounts(s: BrokerSnapshot): { sessions: number; queued: number; retained: number } {
  return { sessions: s.sessions.length, queued: s.sessions.reduce((n, x) => n + x.outgoing.length, 0), retained: s.retained.length };
}

/**
 * Read the snapshot at `file`: null when there is none; throws (with the reason) when it is
 * unreadable or not a snapshot, so the caller decides whether to start empty.
 */
export async function readSnapshot(file: string): Promise<BrokerSnapshot | null> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
  return Snapshot.parse(JSON.parse(text));
}

/** Write `s` to `file` atomically (a temp file renamed over it), creating its directory. */
export async function writeSnapshot(file: string, s: BrokerSnapshot): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, JSON.stringify(s));
  await rename(tmp, file);
}
