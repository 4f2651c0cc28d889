/** Writing a certify run's reports: JSON (the SuiteReport as is) and JUnit XML. */
import { writeFile } from 'node:fs/promises';
import type { SuiteReport } from '../../report/model.js';
import { toJunitSuites } from '../../report/model.js';
import { junitXml } from '../../report/junit.js';

/** Where to write; each file is written only when its path is given. */
export interface ReportFiles {
  readonly junit?: string;
  readonly json?: string;
}

/** Write `report` to the files asked for. */
export async function writeSuiteReports(report: SuiteReport, files: ReportFiles): Promise<void> {
  if (files.json !== undefined) await writeFile(files.json, `${JSON.stringify(report, null, 2)}\n`);
  if (files.junit !== undefined) await writeFile(files.junit, junitXml(toJunitSuites([report]), `otasim certify ${report.suite}`));
}
