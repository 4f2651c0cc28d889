/**
 * JUnit XML, the dialect CI systems read (Jenkins, GitLab, GitHub test reporters): `<testsuites>`
 * with one `<testsuite>` per scenario or certify suite and one `<testcase>` per check; a failed
 * check gets `<failure>`, a check that could not run `<error>`, a skipped one `<skipped>`. Pure.
 */
import type { JunitCase, JunitSuite } from './model.js';

/** XML 1.0 forbids most control characters even as references; drop them, escape the five specials. The HTML report escapes with it too. */
export function esc(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/g, '')
    .replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');
}

const secs = (t: number): string => (Number.isFinite(t) && t > 0 ? t : 0).toFixed(3);

function testcase(c: JunitCase): string {
  const head = `    <testcase classname="${esc(c.classname)}" name="${esc(c.name)}" time="${secs(c.timeSec)}"`;
  const msg = esc(c.message ?? '');
  const body = c.details === undefined ? '' : esc(c.details);
  switch (c.status) {
    case 'pass':
      return `${head}/>`;
    case 'skip':
      return `${head}>\n      <skipped message="${msg}"/>\n    </testcase>`;
    case 'fail':
      return `${head}>\n      <failure message="${msg}" type="assertion">${body}</failure>\n    </testcase>`;
    case 'error':
      return `${head}>\n      <error message="${msg}" type="error">${body}</error>\n    </testcase>`;
  }
}

function count(s: JunitSuite, status: JunitCase['status']): number {
  return s.cases.filter((c) => c.status === status).length;
}

/** The XML document for `suites`. */
export function junitXml(suites: readonly JunitSuite[], name = 'otasim'): string {
  const total = (status: JunitCase['status']): number => suites.reduce((n, s) => n + count(s, status), 0);
  const tests = suites.reduce((n, s) => n + s.cases.length, 0);
  const time = suites.reduce((t, s) => t + s.timeSec, 0);
  const out = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="${esc(name)}" tests="${tests}" failures="${total('fail')}" errors="${total('error')}" skipped="${total('skip')}" time="${secs(time)}">`,
  ];
  for (const s of suites) {
    out.push(`  <testsuite name="${esc(s.name)}" tests="${s.cases.length}" failures="${count(s, 'fail')}" errors="${count(s, 'error')}" skipped="${count(s, 'skip')}" time="${secs(s.timeSec)}"${s.timestamp === undefined ? '' : ` timestamp="${esc(s.timestamp)}"`}>`);
    const props = Object.entries(s.properties ?? {});
    if (props.length > 0) {
      out.push('    <properties>');
      for (const [k, v] of props) out.push(`      <property name="${esc(k)}" value="${esc(v)}"/>`);
      out.push('    </properties>');
    }
    for (const c of s.cases) out.push(testcase(c));
    out.push('  </testsuite>');
  }
  out.push('</testsuites>');
  return out.join('\n') + '\n';
}
