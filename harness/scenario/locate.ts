/**
 * Where a path of a parsed scenario sits in its text: the `yaml` package's document keeps each
 * node's source range, so a zod issue at `steps.3.wait.timeout` is reported at that node's line and
 * column. A path that goes deeper than the file (a missing key) is reported at the deepest node
 * that exists. Pure.
 */
import { isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node } from 'yaml';

/** The text's document and its line counter; positions are 1-based. */
export class Locator {
  readonly #doc: Document;
  readonly #lines = new LineCounter();

  constructor(text: string) {
    this.#doc = parseDocument(text, { lineCounter: this.#lines, keepSourceTokens: false });
  }

  /**
   * Line and column of the node at `path` (or of the key `key` of the object there, for unknown
   * keys), else of its deepest existing ancestor.
   */
  at(path: ReadonlyArray<PropertyKey>, key?: string): { line: number; col: number } {
    let node: unknown = this.#doc.contents;
    let best: unknown = node;
    const segs: Array<[PropertyKey, boolean]> = [...path.map((p): [PropertyKey, boolean] => [p, false]), ...(key === undefined ? [] : [[key, true] as [PropertyKey, boolean]])];
    for (const [seg, wantKey] of segs) {
      const next = child(node, seg, wantKey);
      if (next === undefined) break;
      node = next;
      best = next;
    }
    const range = (best as Node | null)?.range;
    const offset = range?.[0] ?? 0;
    const pos = this.#lines.linePos(offset);
    return { line: pos.line, col: pos.col };
  }
}

function child(node: unknown, seg: PropertyKey, wantKey: boolean): unknown {
  if (isMap(node)) {
    for (const item of node.items) {
      if (!isPair(item)) continue;
      const k = isScalar(item.key) ? item.key.value : item.key;
      if (String(k) === String(seg)) return wantKey ? item.key : item.value ?? item.key;
    }
    return undefined;
  }
  if (isSeq(node) && typeof seg === 'number') return node.items[seg] ?? undefined;
  return undefined;
}
