/**
 * harness: scenario files in, verdicts and reports out (issue 7). `loadScenario`/`parseScenario`
 * validate a file completely before anything runs (ScenarioError, exit 2); `preflight` checks the
 * environment it names; `runScenario` runs it and returns the RunReport every reporter reads.
 */
export { loadScenario, parseScenario, ROLLOUT_STATES, type ParseOptions, type Scenario, type ScenarioFirmware } from './scenario/loader.js';
export { ScenarioSchema, type ScenarioData } from './scenario/schema.js';
export { runScenario, type RunScenarioOptions } from './run/runner.js';
export { preflight } from './run/environment.js';
export type { ProgressOut } from '../simulator/fleet/progress.js';
export type { RunReport, TimelineSample, CheckResult } from './report/model.js';
