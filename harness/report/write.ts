/**
 * Writing the reports of a run to disk: a JSON file, a JUnit XML file, and a report directory with
 * all three forms plus the HTML. Files are written whole to a temp name and renamed, so a reader
 * (a CI step, a browser) never sees half a report.
 */
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { slug } from './format.js';
import { indexHtml, scenarioHtml } from './html.js';
import { junitXml } from './junit.js';
import { toJunitSuites, type RunReport, type SuiteReport } from './model.js';

/** Where to write; each is optional, none writes nothing. */
export interface ReportTargets {
  /** Directory for `report.html`, `report.json`, `junit.xml` and one HTML page per scenario. */
  readonly reportDir?: string;
  /** JUnit XML file. */
  readonly junit?: string;
  /** JSON file: the report object for one run, an array for several. */
  readonly json?: string;
}

/** The files written, absolute paths; `html` is the page to open first (null without a report dir). */
export interface WrittenReports {
  readonly files: readonly string[];
  readonly html: string | null;
}

async function put(path: string, text: string): Promise<string> {
  const abs = resolve(path);
  const tmp = `${abs}.${process.pid}.tmp`;
  await writeFile(tmp, text);
  await rename(tmp, abs);
  return abs;
}

const jsonOf = (reports: ReadonlyArray<RunReport | SuiteReport>): string =>
  `${JSON.stringify(reports.length === 1 ? reports[0] : reports, null, 2)}\n`;

/**
 * Write `reports` where `targets` say. In a report directory, one scenario alone gets its page as
 * `report.html`; several runs get `report.html` as an index linking `NN-name.html` per scenario.
 */
export async function writeReports(reports: ReadonlyArray<RunReport | SuiteReport>, targets: ReportTargets): Promise<WrittenReports> {
  const files: string[] = [];
  let html: string | null = null;
  const xml = (): string => junitXml(toJunitSuites(reports));
  if (targets.json !== undefined) files.push(await put(targets.json, jsonOf(reports)));
  if (targets.junit !== undefined) files.push(await put(targets.junit, xml()));
  if (targets.reportDir !== undefined) {
    const dir = resolve(targets.reportDir);
    await mkdir(dir, { recursive: true });
    const only = reports.length === 1 ? reports[0] : undefined;
    if (only?.kind === 'scenario') {
      html = await put(join(dir, 'report.html'), scenarioHtml(only));
    } else {
      const links: Array<string | null> = [];
      for (const [i, r] of reports.entries()) {
        if (r.kind !== 'scenario') {
          links.push(null);
          continue;
        }
        const name = `${String(i + 1).padStart(2, '0')}-${slug(r.scenario.name)}.html`;
        files.push(await put(join(dir, name), scenarioHtml(r)));
        links.push(name);
      }
      html = await put(join(dir, 'report.html'), indexHtml(reports, links));
    }
    files.push(html, await put(join(dir, 'report.json'), jsonOf(reports)), await put(join(dir, 'junit.xml'), xml()));
  }
  return { files, html };
}
