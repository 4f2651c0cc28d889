/**
 * `otasim demo` (also `npm start`): the built-in demo scenario (harness/demo.ts) on embedded
 * defaults. Live progress on stderr; the summary table, then the report's paths, on stdout.
 * Exit 0 when every assertion of the demo holds, 1 when one fails or the run errs, 2 on bad flags.
 * SIGINT or SIGTERM stop it gracefully; the reports are still written.
 */
import type { Argv, CommandModule, Options } from 'yargs';
import { UsageError } from '../../protocol/errors.js';
import { DEMO_DEVICES, demoYaml, runDemo } from '../../harness/demo.js';
import { consoleSummary } from '../../harness/report/index.js';
import { EXIT, type CliContext } from '../context.js';

/** Every flag of `otasim demo`, in `--help` order. */
export const DEMO_FLAGS: Readonly<Record<string, Options>> = {
  devices: { type: 'number', default: DEMO_DEVICES, describe: 'virtual ESP32s in the fleet (1–20000)' },
  report: { type: 'string', requiresArg: true, describe: 'report directory (default: a new otasim-demo-* directory under the OS temp dir)' },
  seed: { type: 'number', describe: 'seed of the fleet, faults and jitter (default: the scenario\'s, 42)' },
  'print-scenario': { type: 'boolean', default: false, describe: 'print the demo scenario as YAML (for `otasim run`) and exit' },
};

export function demoCommand(ctx: CliContext): CommandModule {
  return {
    command: 'demo',
    describe: 'Rehearse a whole rollout on embedded defaults: 1,000 devices, a good release canary → full, a bad one the policy halts; reports with charts',
    builder: (y: Argv) => y
      .version(false)
      .options(DEMO_FLAGS)
      .example('$0 demo', 'the full demo, reports in a temp directory')
      .example('$0 demo --devices 200 --report ./otasim-report', 'a smaller fleet, reports in ./otasim-report'),
    handler: async (argv) => {
      const a = argv as Record<string, unknown>;
      const devices = a.devices as number;
      if (!Number.isInteger(devices) || devices < 1 || devices > 20_000) throw new UsageError(`--devices ${String(a.devices)}: expected a whole number from 1 to 20000`);
      const seed = a.seed as number | undefined;
      if (seed !== undefined && (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff)) throw new UsageError(`--seed ${String(seed)}: expected a whole number from 0 to 4294967295`);
      if (a['print-scenario'] === true) {
        ctx.stdout.write(demoYaml(devices));
        ctx.setExitCode(EXIT.OK);
        return;
      }
      const stop = new AbortController();
      const on = (sig: string): void => {
        ctx.stderr.write(`otasim demo: ${sig}, stopping\n`);
        stop.abort();
      };
      process.once('SIGINT', on);
      process.once('SIGTERM', on);
      try {
        const stderr = process.stderr as unknown as { isTTY?: boolean };
        ctx.stderr.write(`otasim demo: ${devices} devices, embedded server and broker; live progress below\n`);
        const { report, written } = await runDemo({
          devices, signal: stop.signal, ...(seed === undefined ? {} : { seed }),
          ...(typeof a.report === 'string' ? { reportDir: a.report } : {}),
          progress: { write: (s: string) => ctx.stderr.write(s), isTTY: stderr.isTTY === true },
        });
        ctx.stdout.write(consoleSummary(report));
        ctx.stdout.write(`report: ${written.html ?? ''}\n`);
        ctx.stdout.write(`also: ${written.files.filter((f) => f !== written.html).join(', ')}\n`);
        ctx.setExitCode(report.verdict === 'pass' ? EXIT.OK : EXIT.FAIL);
      } finally {
        process.off('SIGINT', on);
        process.off('SIGTERM', on);
      }
    },
  };
}
