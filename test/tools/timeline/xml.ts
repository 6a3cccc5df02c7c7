// A small strict XML parser for the tests: elements, attributes, text, comments; it throws on anything malformed
// (unclosed or mismatched tags, bad attributes, stray `<` or `&`), so a test that parses the SVG also checks it is XML.

export interface XmlElement {
  name: string;
  attrs: Record<string, string>;
  children: XmlElement[];
  text: string;
}

const ENTITIES: Record<string, string> = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'" };

function decode(raw: string, where: number): string {
  return raw.replace(/&([^;]*);|&/g, (match, name: string | undefined) => {
    if (name === undefined) throw new Error(`bare & at ${where}`);
    if (name in ENTITIES) return ENTITIES[name]!;
    const code = /^#x([0-9a-f]+)$/i.exec(name) ?? /^#(\d+)$/.exec(name);
    if (!code) throw new Error(`unknown entity ${match} at ${where}`);
    return String.fromCodePoint(parseInt(code[1]!, name.startsWith("#x") ? 16 : 10));
  });
}

export function parseXml(source: string): XmlElement {
  let i = 0;
  const root: XmlElement = { name: "#document", attrs: {}, children: [], text: "" };
  const stack: XmlElement[] = [root];
  if (source.startsWith("<?xml")) i = source.indexOf("?>") + 2;
  while (i < source.length) {
    const lt = source.indexOf("<", i);
    const text = source.slice(i, lt < 0 ? source.length : lt);
    if (text.includes(">")) throw new Error(`stray > at ${i}`);
    if (text.trim()) {
      if (stack.length === 1) throw new Error(`text outside the root element at ${i}`);
      stack[stack.length - 1]!.text += decode(text, i);
    }
    if (lt < 0) break;
    if (source.startsWith("<!--", lt)) {
      const end = source.indexOf("-->", lt);
      if (end < 0) throw new Error(`unclosed comment at ${lt}`);
      i = end + 3;
      continue;
    }
    const gt = source.indexOf(">", lt);
    if (gt < 0) throw new Error(`unclosed tag at ${lt}`);
    const inner = source.slice(lt + 1, gt);
    if (inner.includes("<")) throw new Error(`< inside a tag at ${lt}`);
    i = gt + 1;
    if (inner.startsWith("/")) {
      const name = inner.slice(1).trim();
      const open = stack.pop();
      if (!open || open.name !== name) throw new Error(`</${name}> closes <${open?.name}> at ${lt}`);
      continue;
    }
    const selfClosing = inner.endsWith("/");
    const body = selfClosing ? inner.slice(0, -1) : inner;
    const nameMatch = /^([A-Za-z_][\w:.-]*)/.exec(body);
    if (!nameMatch) throw new Error(`bad tag name at ${lt}`);
    const element: XmlElement = { name: nameMatch[1]!, attrs: {}, children: [], text: "" };
    let rest = body.slice(nameMatch[1]!.length);
    const attr = /^\s+([A-Za-z_][\w:.-]*)="([^"<]*)"/;
    for (;;) {
      const m = attr.exec(rest);
      if (!m) break;
      if (m[1]! in element.attrs) throw new Error(`attribute ${m[1]} twice at ${lt}`);
      element.attrs[m[1]!] = decode(m[2]!, lt);
      rest = rest.slice(m[0].length);
    }
    if (rest.trim()) throw new Error(`bad attributes "${rest.trim().slice(0, 40)}" at ${lt}`);
    const parent = stack[stack.length - 1]!;
    if (parent === root && root.children.length > 0) throw new Error(`second root element at ${lt}`);
    parent.children.push(element);
    if (!selfClosing) stack.push(element);
  }
  if (stack.length !== 1) throw new Error(`<${stack[stack.length - 1]!.name}> never closed`);
  if (root.children.length !== 1) throw new Error("no root element");
  return root.children[0]!;
}

/** Every element below `root` (depth first, document order) that passes `test`. */
export function findAll(root: XmlElement, test: (e: XmlElement) => boolean): XmlElement[] {
  const out: XmlElement[] = [];
  const walk = (e: XmlElement) => {
    for (const c of e.children) {
      if (test(c)) out.push(c);
      walk(c);
    }
  };
  walk(root);
  return out;
}

export function hasClass(e: XmlElement, name: string): boolean {
  return (e.attrs["class"] ?? "").split(/\s+/).includes(name);
}
