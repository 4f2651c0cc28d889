/** Runs per fuzz target in CI (issue 9: at least 500; the bench runs 10,000). */
export const CI_RUNS = 500;
