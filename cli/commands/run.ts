/**
 * `otasim run SCENARIO…`: rehearse and certify rollouts from scenario files (issue 7). Every file
 * is loaded and its environment checked before any run starts, so one bad file runs nothing (exit
 * 2, each problem at `file:line:col: path: message`). Runs go one after another with live progress
 * on stderr and each summary table on stdout; the reports are written at the end, also after
 * SIGINT or SIGTERM, which stop the current run gracefully and skip the rest.
 * Exit codes: 0 every run passed, 1 a check failed or a run ended in error, 2 usage or a bad scenario.
 */
import type { Argv, CommandModule, Options } from 'yargs';
import { ScenarioError, UsageError } from '../../protocol/errors.js';
import { loadScenario, preflight, runScenario, type RunReport, type Scenario } from '../../harness/index.js';
import { consoleSummary, writeReports } from '../../harness/report/index.js';
import { EXIT, type CliContext } from '../context.js';

/** Every flag of `otasim run`, in `--help` order. */
export const RUN_FLAGS: Readonly<Record<string, Options>> = {
  report: { type: 'string', requiresArg: true, describe: 'write report.html (charts), report.json and junit.xml into this directory' },
  junit: { type: 'string', requiresArg: true, describe: 'write JUnit XML (one testcase per check) to this file' },
  json: { type: 'string', requiresArg: true, describe: 'write the run report(s) as JSON to this file' },
  seed: { type: 'number', describe: 'override every scenario\'s seed' },
  quiet: { type: 'boolean', default: false, describe: 'no live progress on stderr' },
  heavy: { type: 'boolean', default: false, describe: 'also run scenarios marked heavy (load rehearsals); without it they are skipped' },
};

/** Load and preflight every file; all problems are reported, then UsageError-like exit 2. */
async function loadAll(files: readonly string[], ctx: CliContext): Promise<Scenario[] | null> {
  const out: Scenario[] = [];
  const problems: string[] = [];
  for (const f of files) {
    try {
      const s = await loadScenario(f);
      await preflight(s);
      out.push(s);
    } catch (e) {
      if (!(e instanceof ScenarioError)) throw e;
      problems.push(e.message);
    }
  }
  if (problems.length === 0) return out;
  for (const p of problems) ctx.stderr.write(`otasim: OTASIM_ERR_SCENARIO: ${p}\n`);
  ctx.stderr.write(`otasim run: ${problems.length} of ${files.length} scenario file(s) refused; nothing was run\n`);
  return null;
}

/** `otasim run SCENARIO… [--report DIR] [--junit FILE] [--json FILE] [--seed N] [--heavy]` */
export function runCommand(ctx: CliContext): CommandModule {
  return {
    command: 'run <scenarios..>',
    describe: 'Run scenario files (YAML/JSON): a fleet, a rollout, faults and assertions; a verdict, JSON, JUnit and HTML reports',
    builder: (y: Argv) => y
      .version(false)
      .positional('scenarios', { type: 'string', array: true, describe: 'scenario files' })
      .options(RUN_FLAGS)
      .example('$0 run scenarios/canary-10-25-50.yaml --report out/', 'one scenario, reports with charts in out/')
      .example('$0 run scenarios/*.yaml --junit junit.xml --seed 7', 'every scenario in CI, one JUnit file'),
    handler: async (argv) => {
      const a = argv as Record<string, unknown>;
      const files = (a.scenarios as unknown[] | undefined ?? []).map(String);
      if (files.length === 0) throw new UsageError('name at least one scenario file');
      const seed = a.seed as number | undefined;
      if (seed !== undefined && (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff)) {
        throw new UsageError(`--seed ${String(seed)}: expected a whole number from 0 to 4294967295`);
      }
      const loaded = await loadAll(files, ctx);
      if (loaded === null) {
        ctx.setExitCode(EXIT.USAGE);
        return;
      }
      // Heavy scenarios (validated like the rest) run only when asked for.
      const scenarios = a.heavy === true ? loaded : loaded.filter((s) => !s.data.heavy);
      for (const s of loaded) {
        if (!scenarios.includes(s)) ctx.stderr.write(`otasim run: ${s.data.name} (${s.file}): skipped, heavy (${s.data.fleet.size} devices); pass --heavy to run it\n`);
      }
      const stop = new AbortController();
      const on = (sig: string): void => {
        ctx.stderr.write(`otasim run: ${sig}, stopping; reports are still written\n`);
        stop.abort();
      };
      process.once('SIGINT', on);
      process.once('SIGTERM', on);
      const reports: RunReport[] = [];
      try {
        const stderr = process.stderr as unknown as { isTTY?: boolean };
        for (const s of scenarios) {
          if (stop.signal.aborted) break;
          ctx.stderr.write(`otasim run: ${s.data.name} (${s.file}): ${s.data.fleet.size} devices, time ×${s.data.time_scale}\n`);
          const report = await runScenario(s, {
            signal: stop.signal, quiet: a.quiet === true, ...(seed === undefined ? {} : { seed }),
            progress: { write: (t: string) => ctx.stderr.write(t), isTTY: stderr.isTTY === true },
          });
          reports.push(report);
          ctx.stdout.write(consoleSummary(report));
        }
      } finally {
        process.off('SIGINT', on);
        process.off('SIGTERM', on);
      }
      const targets = {
        ...(typeof a.report === 'string' ? { reportDir: a.report } : {}),
        ...(typeof a.junit === 'string' ? { junit: a.junit } : {}),
        ...(typeof a.json === 'string' ? { json: a.json } : {}),
      };
      if (reports.length > 0 && Object.keys(targets).length > 0) {
        const written = await writeReports(reports, targets);
        ctx.stdout.write(`reports: ${written.files.join(', ')}\n`);
      }
      const passed = reports.filter((r) => r.verdict === 'pass').length;
      const skipped = loaded.length - scenarios.length;
      ctx.stdout.write(`otasim run: ${passed}/${scenarios.length} scenario(s) passed${reports.length < scenarios.length ? ` (${scenarios.length - reports.length} not run: stopped)` : ''}${skipped > 0 ? `, ${skipped} heavy skipped` : ''}\n`);
      ctx.setExitCode(passed === scenarios.length ? EXIT.OK : EXIT.FAIL);
    },
  };
}
