/**
 * Judging the device on what the steps recorded: each requirement is a pure function of the step
 * records and the power-cycle probes, returning why it failed (or null), or why it cannot be
 * judged. The reports are checked against the protocol's state machine: ack, progress, one result;
 * progress monotonic; result codes; success only from the new image after its restart.
 */
import {
  OTA_RESULT_MESSAGES, OtaProgressMessage, OtaResultMessage, OtaStatusMessage, PROGRESS_STATES,
} from '../../../protocol/payloads.js';
import type { ProtocolProfile } from '../../../protocol/topics.js';
import type { Heard } from './bench.js';
import type { RequirementKey } from './requirements.js';
import { announces, first, succeeded, versionOf, type StepRecord } from './steps.js';

/** What the power-cycle probes saw (virtual devices only). */
export interface Probes {
  /** After the first good update, a power cycle: the version announced after it. */
  readonly validAfterCycle?: { readonly expected: string; readonly got: string | null };
  /** After the refused checksum, a power cycle: the version announced after it. */
  readonly shaAfterCycle?: { readonly expected: string | null; readonly got: string | null };
}

/** A requirement's outcome: null = met, `{fail}` = broken, `{skip}` = could not be judged. */
export type Verdict = null | { readonly fail: string } | { readonly skip: string };

const fail = (why: string): Verdict => ({ fail: why });
const skip = (why: string): Verdict => ({ skip: why });

function step(records: readonly StepRecord[], name: string): StepRecord | undefined {
  return records.find((r) => r.name === name);
}

const resultOf = (r: StepRecord): Heard | undefined => first(r.heard, 'result');
const ota = (r: StepRecord): Heard[] => r.heard.filter((h) => h.kind === 'status' || h.kind === 'progress' || h.kind === 'result');
const progressState = (h: Heard): string => String(h.json?.state ?? '');
/** Progress states that tell the end rather than the transfer (percent may drop to what was written). */
const closing = (s: string): boolean => /^(failed|rolled back)$/i.test(s);

/** The step's result says the device refused the offer, and it never announced the offered version. */
function refused(r: StepRecord | undefined, label: string): Verdict {
  if (r === undefined) return skip(`the ${label} step did not run`);
  const res = resultOf(r);
  if (succeeded(res)) return fail(`${label}: the device reported success`);
  const took = announces(r.heard).find((h) => versionOf(h) === r.version);
  if (took !== undefined) return fail(`${label}: the device then announced ${r.version}`);
  if (res === undefined) return fail(`${label}: no result was reported`);
  return null;
}

/** The step ended in success and the device announced the offered version. */
function took(r: StepRecord | undefined, label: string): Verdict {
  if (r === undefined) return skip(`the ${label} step did not run`);
  const res = resultOf(r);
  const last = versionOf(announces(r.heard).at(-1));
  if (!succeeded(res) && last !== r.version) return fail(`${label}: ${res === undefined ? 'no result' : `result ${res.raw}`}; running ${last ?? r.before ?? '?'}`);
  return null;
}

function allOf(records: readonly StepRecord[], f: (r: StepRecord) => string | null): Verdict {
  const why = records.map((r) => f(r)).filter((w): w is string => w !== null);
  return why.length === 0 ? null : fail(why.slice(0, 3).join('; ') + (why.length > 3 ? `; and ${why.length - 3} more` : ''));
}

/** Schema check of one report in the profile's shape. */
function shapeError(h: Heard, profile: ProtocolProfile): string | null {
  if (h.json === undefined) return `${h.kind} is not a JSON object: ${h.raw.slice(0, 80)}`;
  const schema = h.kind === 'status' ? OtaStatusMessage : h.kind === 'progress' ? OtaProgressMessage : h.kind === 'result' ? OtaResultMessage : null;
  if (schema === null) return null;
  const r = schema.safeParse(h.json);
  if (!r.success) return `${h.kind} ${h.raw.slice(0, 80)}: ${r.error.issues[0]?.path.join('.') ?? ''} ${r.error.issues[0]?.message ?? ''}`.trim();
  if (profile !== 'paku-edge') return null;
  if (h.kind === 'progress' && !(PROGRESS_STATES as readonly string[]).includes(progressState(h))) return `progress state ${JSON.stringify(h.json.state)} is not one of OtaClient::stateToString's`;
  if (h.kind === 'result') {
    const code = h.json.result_code;
    if (typeof code !== 'number' || !Number.isInteger(code) || code < 0 || code > 11) return `result_code ${JSON.stringify(code)} is not 0–11`;
    if (h.json.message !== OTA_RESULT_MESSAGES[code]) return `result_code ${code} with message ${JSON.stringify(h.json.message)}, not ${JSON.stringify(OTA_RESULT_MESSAGES[code])}`;
    if (h.json.success !== (code === 0)) return `success ${String(h.json.success)} with result_code ${code}`;
  }
  return null;
}

/** The reports of one offer follow the state machine: [ack] → progress* → exactly one result. */
function orderError(r: StepRecord): string | null {
  const seq = ota(r);
  const results = seq.filter((h) => h.kind === 'result');
  if (results.length > 1) return `${r.name}: ${results.length} results for one offer`;
  const ack = seq.findIndex((h) => h.kind === 'status');
  const firstProgress = seq.findIndex((h) => h.kind === 'progress');
  if (firstProgress >= 0 && (ack < 0 || ack > firstProgress)) return `${r.name}: progress before the accepted status`;
  if (ack >= 0 && seq[ack]?.json?.status !== 'accepted') return `${r.name}: status ${JSON.stringify(seq[ack]?.json?.status)}, not "accepted"`;
  if (seq.filter((h) => h.kind === 'status').length > 1) return `${r.name}: more than one status for one offer`;
  const resultAt = seq.findIndex((h) => h.kind === 'result');
  if (resultAt >= 0) {
    const after = seq.slice(resultAt + 1).filter((h) => !(h.kind === 'progress' && closing(progressState(h))));
    if (after.length > 0) return `${r.name}: ${after[0]?.kind} after the result`;
  }
  return null;
}

function monotonicError(r: StepRecord): string | null {
  let pct = -1;
  let bytes = -1;
  for (const h of r.heard) {
    if (h.kind !== 'progress' || h.json === undefined || closing(progressState(h))) continue;
    const p = typeof h.json.percent === 'number' ? h.json.percent : null;
    const d = typeof h.json.downloaded === 'number' ? h.json.downloaded : null;
    const total = typeof h.json.total === 'number' ? h.json.total : null;
    if (p !== null) {
      if (p < pct) return `${r.name}: percent ${pct} → ${p}`;
      pct = p;
    }
    if (d !== null) {
      if (d < bytes) return `${r.name}: downloaded ${bytes} → ${d}`;
      bytes = d;
      if (total !== null && total > 0 && d > total) return `${r.name}: downloaded ${d} > total ${total}`;
    }
  }
  return null;
}

/** Success comes from the new image: an announce after the ack and before the result, the result naming the new version. */
function afterRebootError(r: StepRecord): string | null {
  const res = resultOf(r);
  if (!succeeded(res) || res === undefined) return null;
  const ackSeq = first(r.heard, 'status')?.seq ?? -1;
  const rebooted = announces(r.heard).some((h) => h.seq > ackSeq && h.seq < res.seq);
  const named = res.json?.current_version ?? res.json?.version;
  if (!rebooted) return `${r.name}: success reported before the device restarted (result current_version ${JSON.stringify(named)})`;
  if (named !== r.version) return `${r.name}: success names ${JSON.stringify(named)}, offered ${r.version}`;
  return null;
}

/** Evaluate every requirement that the step records can judge. */
export function evaluate(records: readonly StepRecord[], probes: Probes, profile: ProtocolProfile): Partial<Record<RequirementKey, Verdict>> {
  const reporting = records.filter((r) => r.heard.some((h) => h.kind !== 'announce' && h.kind !== 'lwt'));
  const successes = records.filter((r) => succeeded(resultOf(r)));
  const good = step(records, 'good');
  const recoveries = records.filter((r) => r.kind === 'recovery');
  const keepalive = step(records, 'stall');
  return {
    good: took(good, 'the good update'),
    recovers: recoveries.length === 0 ? skip('no bad offer ran') : allOf(recoveries, (r) => {
      const v = took(r, r.name);
      return v !== null && 'fail' in v ? v.fail : null;
    }),
    order: allOf(reporting, orderError),
    monotonic: allOf(reporting, monotonicError),
    shape: allOf(reporting, (r) => {
      const bad = r.heard.map((h) => shapeError(h, profile)).find((e) => e !== null);
      return bad === undefined ? null : `${r.name}: ${bad}`;
    }),
    resulted: allOf(records.filter((r) => first(r.heard, 'status') !== undefined), (r) => {
      if (resultOf(r) !== undefined) return null;
      // A session the broker dropped loses its QoS 0 result; DEV-MQTT-001 judges that.
      if (r.heard.some((h) => h.kind === 'lwt')) return null;
      return `${r.name}: accepted, but no result`;
    }),
    afterReboot: successes.length === 0 ? skip('no update succeeded') : allOf(successes, afterRebootError),
    version: successes.length === 0 ? skip('no update succeeded') : allOf(successes, (r) => {
      const last = versionOf(announces(r.heard).at(-1));
      return last === r.version ? null : `${r.name}: announces ${JSON.stringify(last)} after updating to ${r.version}`;
    }),
    sha: (() => {
      const r = step(records, 'wrong-sha');
      const v = refused(r, 'wrong SHA-256');
      if (v !== null || r === undefined || profile !== 'paku-edge') return v;
      const code = resultOf(r)?.json?.result_code;
      return code === 3 ? null : fail(`wrong SHA-256: result_code ${JSON.stringify(code)}, expected 3 (Verification failed)`);
    })(),
    shaBoot: probes.shaAfterCycle === undefined ? skip('needs a virtual device (power cycle)')
      : probes.shaAfterCycle.got === probes.shaAfterCycle.expected ? null
        : fail(`after a power cycle the device runs ${JSON.stringify(probes.shaAfterCycle.got)}, not ${JSON.stringify(probes.shaAfterCycle.expected)}`),
    truncated: refused(step(records, 'truncated'), 'truncated image'),
    corrupt: refused(step(records, 'corrupt'), 'corrupted image'),
    chip: (() => {
      const r = step(records, 'wrong-chip');
      const v = refused(r, 'image for another chip');
      if (v !== null || r === undefined) return v;
      const written = Math.max(0, ...r.heard.filter((h) => h.kind === 'progress' && !closing(progressState(h)))
        .map((h) => (typeof h.json?.downloaded === 'number' ? h.json.downloaded : 0)));
      if (written > 0) return fail(`image for another chip: ${written} bytes written before it was refused (the header names the chip)`);
      const code = resultOf(r)?.json?.result_code;
      return profile !== 'paku-edge' || code === 9 ? null : fail(`image for another chip: result_code ${JSON.stringify(code)}, expected 9 (Invalid firmware)`);
    })(),
    downgrade: refused(step(records, 'downgrade'), 'downgrade'),
    resume: (() => {
      const r = step(records, 'cut');
      const v = took(r, 'download cut mid-body');
      if (v !== null || r === undefined) return v;
      return r.heard.length > 0 ? null : fail('no report');
    })(),
    partial: took(step(records, 'partial'), '206 Partial Content'),
    keepalive: (() => {
      const r = keepalive;
      if (r === undefined) return skip('the stalled download did not run');
      const res = resultOf(r);
      const lwt = r.heard.find((h) => h.kind === 'lwt' && (res === undefined || h.seq < res.seq));
      if (lwt !== undefined) return fail('the broker dropped the session during the download and published the last will');
      return took(r, 'stalled download');
    })(),
    offline: (() => {
      const r = step(records, 'offline');
      if (r === undefined) return skip('needs a virtual device (power control)');
      return first(r.heard, 'status') === undefined ? fail('the command sent while the device was offline never reached it') : took(r, 'command sent while offline');
    })(),
    selfTest: (() => {
      const r = step(records, 'self-test');
      if (r === undefined) return skip('needs a virtual device (an image whose self-test fails)');
      const last = versionOf(announces(r.heard).at(-1));
      if (succeeded(resultOf(r)) || last === r.version) return fail(`the image whose self-test fails was kept: running ${last ?? '?'}`);
      return null;
    })(),
    valid: probes.validAfterCycle === undefined ? skip('needs a virtual device (power cycle)')
      : probes.validAfterCycle.got === probes.validAfterCycle.expected ? null
        : fail(`after a power cycle the device runs ${JSON.stringify(probes.validAfterCycle.got)}, not ${probes.validAfterCycle.expected}: the update was not confirmed`),
  };
}
