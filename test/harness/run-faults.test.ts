/**
 * Runtime faults in the middle of a rollout, each through a real seam, and the rollout still
 * completes: a broker outage (the embedded aedes drops everyone and refuses connects), a server
 * restart (the embedded OtaServer closed and started again on its data and ports; the rollout
 * engine resumes the plan from the store) and a network partition of 30% of the fleet (their MQTT
 * sessions dropped and connects refused, their HTTP failing).
 */
import { describe, expect, it } from 'vitest';
import { parseScenario, runScenario } from '../../harness/index.js';

const base = (name: string, steps: string, finals = 'states: { failed: 0, rolled back: 0 }', size = 40): string => `name: ${name}
certifies: "${name}"
time_scale: 10
fleet: { size: ${size} }
firmware:
  - { id: good, version: 2.0.0, size: 64KiB }
steps:
${steps}
assert:
  versions: { "2.0.0": "== 100%" }
  bricked: 0
  ${finals}
`;

describe('runtime faults', () => {
  it('a broker outage mid-rollout: every client is dropped, and the rollout completes once the broker is back', async () => {
    const r = await runScenario(parseScenario(base('broker-outage', `  - upload: good
  - rollout: { name: all, firmware: good, target: all }
  - fault: { broker_outage: 30s }
  - wait: { for: { rollout: all, state: completed }, timeout: 5m }`, 'rollout: { all: completed }'), 'outage.yaml'), { quiet: true });
    expect(r.error, JSON.stringify({ events: r.events, counts: r.fleet.counts, errors: r.fleet.errors, v: r.fleet.versions })).toBeUndefined();
    expect(r.verdict).toBe('pass');
    const begins = r.events.find((e) => e.detail.startsWith('broker outage begins'));
    // Right after the rollout is created every device is connected (downloads keep the session):
    // 40 devices plus the server's own clients. (The offers in flight are sent again after the
    // outage, as QoS 1 allows, and devices that already updated refuse them as not_newer: so this
    // rehearsal asserts what the chips run, not a clean success rate.)
    expect(Number(/(\d+) clients disconnected/.exec(begins?.detail ?? '')?.[1])).toBeGreaterThanOrEqual(41);
    expect(r.events.some((e) => e.detail === 'broker outage ends')).toBe(true);
    const outage = r.steps.find((s) => s.kind === 'fault');
    expect((outage?.endMs ?? 0) - (outage?.startMs ?? 0)).toBeGreaterThanOrEqual(30_000);
  }, 120_000);

  // The embedded broker restarts with the server and its sessions are gone, so a restart while
  // updates are in flight loses offers and results (devices then refuse the re-offer as
  // not_newer). Here the restart falls between phases, while the plan waits for approval: the
  // new engine must find it in the store, take the approval and run phase 2 to completion.
  it('a server restart mid-plan: the restarted engine resumes the plan from the store and completes it', async () => {
    const r = await runScenario(parseScenario(base('server-restart', `  - upload: good
  - plan:
      name: p
      firmware: good
      phases: [{ percent: 25 }, { percent: 100 }]
      advance: manual
      gate: { min_success_percent: 90, min_reports: 3 }
      device: { timeout_ms: 60000, max_retries: 2, retry_backoff_ms: 5000 }
  - wait: { for: { rollout: p, state: awaiting_approval }, timeout: 3m }
  - fault: { server_restart: { down: 2s } }
  - sleep: 70s
  - approve: p
  - wait: { for: { rollout: p, state: completed }, timeout: 5m }
  - wait: { for: { states: { success: "== 40" } }, timeout: 5m }`), 'restart.yaml'), { quiet: true });
    expect(r.error, JSON.stringify({ phases: r.phases, events: r.events, counts: r.fleet.counts, errors: r.fleet.errors })).toBeUndefined();
    expect(r.verdict, JSON.stringify({ checks: r.checks.filter((c) => c.status !== 'pass'), counts: r.fleet.counts, errors: r.fleet.errors })).toBe('pass');
    const kinds = r.events.filter((e) => e.kind === 'fault').map((e) => e.detail);
    expect(kinds).toEqual(['server restart: closing', 'server restart: listening again']);
    const restartAt = r.events.find((e) => e.detail === 'server restart: listening again')?.t ?? Infinity;
    // Phase 2 (index 1) began after the restart: the new engine took the approval of the stored plan.
    const phase2 = r.phases.find((p) => p.rollout === 'p' && p.label === 'phase 2/2');
    expect(phase2).toBeDefined();
    expect(phase2?.startMs ?? 0).toBeGreaterThan(restartAt);
    expect(r.phases.some((p) => p.rollout === 'p' && p.state === 'completed')).toBe(true);
  }, 120_000);

  it('a partition of 30% of the fleet: their sessions drop and their connects are refused, then they finish', async () => {
    const r = await runScenario(parseScenario(base('partition', `  - upload: good
  - rollout: { name: all, firmware: good, target: all }
  - fault: { partition: { share: 0.3, for: 40s } }
  - wait: { for: { rollout: all, state: completed }, timeout: 5m }`), 'partition.yaml'), { quiet: true });
    expect(r.error).toBeUndefined();
    expect(r.verdict).toBe('pass');
    expect(r.events.find((e) => e.detail.startsWith('partition begins'))?.detail).toMatch(/^partition begins: 12 devices cut off/);
    const heals = r.events.find((e) => e.detail.startsWith('partition heals'))?.detail ?? '';
    const [, dropped, refused] = /(\d+) sessions dropped, (\d+) connects refused/.exec(heals) ?? [];
    expect(Number(dropped)).toBe(12);
    // Each cut-off device retried its broker with backoff during the 40 s and was refused.
    expect(Number(refused)).toBeGreaterThanOrEqual(12);
  }, 120_000);
});
