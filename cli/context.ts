/** What a command needs from its process: where to write, and how to report its exit code. */
export interface CliContext {
  readonly stdout: { write(s: string): unknown };
  readonly stderr: { write(s: string): unknown };
  /** Set the exit code the process ends with (0 pass, 1 failure/invalid, 2 usage). */
  setExitCode(code: number): void;
}

/** Exit codes shared by every command. */
export const EXIT = { OK: 0, FAIL: 1, USAGE: 2 } as const;
