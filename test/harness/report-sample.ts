/**
 * Hand-built run reports for the reporter tests: a rollout of 200 devices from 1.0.0 to 2.0.0 over
 * 60 s with known durations, phases and events, and a name full of markup to prove escaping.
 */
import { FLEET_STATES, type FleetState } from '../../simulator/fleet/states.js';
import type { CheckResult, RunReport, SuiteReport, TimelineSample } from '../../harness/report/index.js';

export const HOSTILE = `<script>alert("x")</script> & 'canary'`;

const zero = (): Record<FleetState, number> => Object.fromEntries(FLEET_STATES.map((s) => [s, 0])) as Record<FleetState, number>;

/** 61 samples, one a second: devices move idle → downloading → success as 2.0.0 spreads. */
function timeline(devices: number): TimelineSample[] {
  const out: TimelineSample[] = [];
  for (let s = 0; s <= 60; s++) {
    const updated = Math.min(devices, Math.max(0, Math.round((s - 10) * (devices / 40))));
    const inFlight = s >= 8 && updated < devices ? Math.min(devices - updated, 30) : 0;
    const states = zero();
    states.success = updated;
    states.downloading = inFlight;
    states.idle = devices - updated - inFlight;
    out.push({ t: s * 1000, versions: updated === devices ? { '2.0.0': updated } : { '1.0.0': devices - updated, '2.0.0': updated }, states });
  }
  return out;
}

/** 100 durations: 10 each of 10.5 s, 11.5 s … 19.5 s (ten 1-second bins of ten). */
export const DURATIONS = Array.from({ length: 100 }, (_, i) => 10_500 + Math.floor(i / 10) * 1000);

export function sampleRun(over: Partial<RunReport> = {}): RunReport {
  const checks: CheckResult[] = [
    { id: 'demo/final#1', name: 'versions 2.0.0 == 200', status: 'pass', expected: '== 200', actual: '200' },
    { id: 'demo/final#2', name: 'bricked == 0', status: 'pass', expected: '0', actual: '0' },
    { id: 'demo/final#3', name: 'p95 update < 15s', status: 'fail', expected: '< 15 s', actual: '19.5 s', message: 'p95 above the bound' },
  ];
  const counts = zero();
  counts.success = 200;
  return {
    kind: 'scenario',
    scenario: { name: HOSTILE, file: 'scenarios/<x>.yaml', certifies: 'a canary & full rollout reaches "every" device' },
    seed: 7, startedAt: '2026-11-25T12:00:00.000Z', durationMs: 60_000, wallMs: 3_000, clock: 'virtual', verdict: 'fail',
    steps: [
      { index: 0, kind: 'upload', label: 'upload good', startMs: 0, endMs: 200, status: 'pass' },
      { index: 1, kind: 'wait', label: 'wait plan p1 completed', startMs: 200, endMs: 55_000, status: 'pass' },
    ],
    checks,
    fleet: {
      devices: 200, counts, versions: { '2.0.0': 200 },
      updateMs: { count: 100, p50: 14_500, p95: 19_500, p99: 19_500 }, updateDurationsMs: DURATIONS,
      bytes: 200 * 1024 * 1024, errors: { boot_crash: 3, ESP_ERR_OTA_VALIDATE_FAILED: 1 }, bricked: 0,
    },
    timeline: timeline(200),
    phases: [
      { rollout: 'p1', label: 'canary 10%', startMs: 1_000, endMs: 20_000, state: 'active' },
      { rollout: 'p1', label: 'paused', startMs: 20_000, endMs: 25_000, state: 'paused' },
      { rollout: 'p1', label: 'full', startMs: 25_000, endMs: 55_000, state: 'completed' },
      { rollout: HOSTILE, label: 'phase 1', startMs: 56_000, endMs: null, state: 'aborted' },
    ],
    events: [
      { t: 20_000, kind: 'fault', detail: 'broker outage 5 s' },
      { t: 56_500, kind: 'halt', detail: `plan ${HOSTILE} halted` },
    ],
    ...over,
  };
}

export function sampleSuite(): SuiteReport {
  return {
    kind: 'certify', suite: 'server', target: 'http://127.0.0.1:1', startedAt: '2026-11-25T12:00:00.000Z', wallMs: 1200, verdict: 'pass',
    checks: [{ id: 'SRV-CHECK-001', name: 'check answers 200', status: 'pass' }],
    findings: [{ id: 'SRV-WART-001', name: 'no Content-Length', status: 'skip', message: 'known wart' }],
  };
}
