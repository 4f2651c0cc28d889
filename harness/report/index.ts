/**
 * harness/report: the run record every reporter reads (model.ts) and the reporters themselves:
 * console summary, JSON, JUnit XML and the self-contained HTML page with its four charts.
 */
export * from './model.js';
export { junitXml } from './junit.js';
export { consoleSummary, textTable } from './console.js';
export { scenarioHtml, indexHtml } from './html.js';
export { histogramBins, type Bin } from './charts.js';
export { writeReports, type ReportTargets, type WrittenReports } from './write.js';
