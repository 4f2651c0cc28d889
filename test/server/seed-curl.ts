/**
 * Reads the curl examples out of the seed documents and turns them into requests, so the replay
 * test runs exactly what the seeds print. Handles what the seeds use: `\` line continuations,
 * single and double quotes, `$VAR`/`${VAR}` expansion, `-X`, `-H`, `-d`, `-F name=@path`, and a
 * trailing `| jq …` (dropped). Anything else throws, so a new seed construct cannot be skipped.
 */

/** One curl command as written, and where. */
export interface SeedCurl {
  readonly line: number;
  readonly text: string;
}

/** A parsed curl command. */
export interface CurlRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: Record<string, string>;
  readonly data?: string;
  /** `-F name=@path` parts. */
  readonly files: { name: string; path: string }[];
}

/** Every curl command in `doc`: whole lines (with continuations) and inline `code` spans. */
export function extractCurls(doc: string): SeedCurl[] {
  const lines = doc.split('\n');
  const out: SeedCurl[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? '';
    if (/^\s*curl\s/.test(line)) {
      let text = line.trim();
      const start = i + 1;
      // A continuation ends with `\`; a single-quoted -d body may span lines until its quote closes.
      while ((text.endsWith('\\') || unclosedQuote(text)) && i + 1 < lines.length) {
        text = text.endsWith('\\') ? `${text.slice(0, -1).trimEnd()} ${(lines[++i] ?? '').trim()}` : `${text}\n${lines[++i] ?? ''}`;
      }
      out.push({ line: start, text });
      continue;
    }
    for (const m of line.matchAll(/`(curl\s[^`]+)`/g)) out.push({ line: i + 1, text: m[1] ?? '' });
  }
  return out;
}

function unclosedQuote(s: string): boolean {
  let q: string | null = null;
  for (const c of s) {
    if (q === null && (c === '\'' || c === '"')) q = c;
    else if (q !== null && c === q) q = null;
  }
  return q !== null;
}

/** Shell-like words of `text`, expanding `$VAR` from `env` (unset → throws). Stops at an unquoted `|`. */
export function shellWords(text: string, env: Readonly<Record<string, string>>): string[] {
  const words: string[] = [];
  let cur = '';
  let inWord = false;
  let i = 0;
  const expand = (): string => {
    const m = /^\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))/.exec(text.slice(i));
    if (m === null) {
      i++;
      return '$';
    }
    const name = (m[1] ?? m[2]) as string;
    const v = env[name];
    if (v === undefined) throw new Error(`seed curl uses $${name}, which the replay does not define`);
    i += m[0].length;
    return v;
  };
  while (i < text.length) {
    const c = text[i] as string;
    if (/\s/.test(c)) {
      if (inWord) words.push(cur);
      cur = '';
      inWord = false;
      i++;
    } else if (c === '|') {
      break;
    } else if (c === '\'') {
      const end = text.indexOf('\'', i + 1);
      if (end < 0) throw new Error(`unclosed ' in: ${text}`);
      cur += text.slice(i + 1, end);
      inWord = true;
      i = end + 1;
    } else if (c === '"') {
      inWord = true;
      i++;
      while (i < text.length && text[i] !== '"') {
        if (text[i] === '\\' && i + 1 < text.length && '"\\$`'.includes(text[i + 1] as string)) {
          cur += text[i + 1];
          i += 2;
        } else if (text[i] === '$') {
          cur += expand();
        } else {
          cur += text[i];
          i++;
        }
      }
      if (i >= text.length) throw new Error(`unclosed " in: ${text}`);
      i++;
    } else if (c === '$') {
      cur += expand();
      inWord = true;
    } else {
      cur += c;
      inWord = true;
      i++;
    }
  }
  if (inWord) words.push(cur);
  return words;
}

/** Parse the words of one curl command. */
export function parseCurl(text: string, env: Readonly<Record<string, string>>): CurlRequest {
  const w = shellWords(text, env);
  if (w[0] !== 'curl') throw new Error(`not a curl command: ${text}`);
  let method: string | undefined;
  let url: string | undefined;
  let data: string | undefined;
  const headers: Record<string, string> = {};
  const files: { name: string; path: string }[] = [];
  for (let i = 1; i < w.length; i++) {
    const a = w[i] as string;
    const next = (): string => {
      const v = w[++i];
      if (v === undefined) throw new Error(`${a} needs a value in: ${text}`);
      return v;
    };
    if (a === '-X' || a === '--request') method = next();
    else if (a === '-H' || a === '--header') {
      const h = next();
      const colon = h.indexOf(':');
      headers[h.slice(0, colon).trim().toLowerCase()] = h.slice(colon + 1).trim();
    } else if (a === '-d' || a === '--data') data = next();
    else if (a === '-F' || a === '--form') {
      const f = next();
      const m = /^([^=]+)=@(.+)$/.exec(f);
      if (m === null) throw new Error(`only -F name=@file is supported, got ${f}`);
      files.push({ name: m[1] as string, path: m[2] as string });
    } else if (a.startsWith('-')) throw new Error(`curl option ${a} is not supported by the replay: ${text}`);
    else if (url === undefined) url = a;
    else throw new Error(`two URLs in: ${text}`);
  }
  if (url === undefined) throw new Error(`no URL in: ${text}`);
  return { method: method ?? (data !== undefined || files.length > 0 ? 'POST' : 'GET'), url, headers, ...(data === undefined ? {} : { data }), files };
}
