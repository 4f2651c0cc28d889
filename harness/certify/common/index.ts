/** Shared pieces of the certify suites (server and device): recording checks and printing them. */
export { SuiteRecorder, RequirementFailed, RequirementSkipped, ensure, type Requirement } from './suite.js';
export { formatSuiteTable } from './table.js';
export { finishSuite, writeSuiteReports, type ReportFiles } from './output.js';
