/**
 * The end of every certify command: the JSON and JUnit files the flags ask for (through the
 * reporters every harness run uses), the table on stdout, and the exit code from the verdict.
 */
import { writeReports } from '../../report/write.js';
import type { SuiteReport } from '../../report/model.js';
import { formatSuiteTable } from './table.js';

/** Files a certify run writes; each optional. */
export interface ReportFiles {
  readonly json?: string;
  readonly junit?: string;
}

/** Write the files `files` names for one suite report. */
export async function writeSuiteReports(report: SuiteReport, files: ReportFiles): Promise<void> {
  await writeReports([report], files);
}

/** Write the files, print the table, and return the exit code (0 pass, 1 otherwise). */
export async function finishSuite(report: SuiteReport, files: ReportFiles, stdout: { write(s: string): unknown }): Promise<0 | 1> {
  await writeSuiteReports(report, files);
  stdout.write(formatSuiteTable(report));
  return report.verdict === 'pass' ? 0 : 1;
}
