// The few XML elements the S3 REST API answers with that S3Store reads:
// ListBucketResult (Contents: Key, Size, LastModified; IsTruncated), DeleteResult
// (Error: Key, Code, Message) and Error (Code, Message). S3 writes these flat, without
// namespace prefixes, CDATA or comments inside them, and never nests an element in
// one of the same name, so a non-greedy match per element is exact; text is unescaped
// (the five named entities and numeric references). A general parser (fast-xml-parser)
// measured ~45 ms to import here, more than signing and the first GET together.

/** The inner text of each `<name>` element in `xml`, in order (`<name/>` gives ''). */
export function xmlElements(xml: string, name: string): string[] {
  const out: string[] = [];
  const re = new RegExp(`<${name}(?:\\s[^>]*)?(?:/>|>([\\s\\S]*?)</${name}\\s*>)`, 'g');
  for (let m = re.exec(xml); m !== null; m = re.exec(xml)) out.push(m[1] ?? '');
  return out;
}

/** The unescaped text of the first `<name>` element, or undefined when there is none. */
export function xmlText(xml: string, name: string): string | undefined {
  const inner = xmlElements(xml, name)[0];
  return inner === undefined ? undefined : xmlUnescape(inner);
}

const NAMED: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

export function xmlUnescape(text: string): string {
  if (!text.includes('&')) return text;
  return text.replace(/&(?:#x([0-9a-fA-F]+)|#([0-9]+)|([a-z]+));/g, (whole, hex: string | undefined, dec: string | undefined, named: string | undefined) => {
    if (hex !== undefined) return String.fromCodePoint(parseInt(hex, 16));
    if (dec !== undefined) return String.fromCodePoint(parseInt(dec, 10));
    return NAMED[named!] ?? whole;
  });
}

/**
 * Text as XML character data. Characters XML 1.0 can only carry as references (CR,
 * TAB, other controls) are written as `&#N;` so the server reads back the exact key.
 */
export function xmlEscape(text: string): string {
  return text.replace(/[&<>"'\u0000-\u001f\u007f]/g, (c) => {
    switch (c) {
      case '&':
        return '&amp;';
      case '<':
        return '&lt;';
      case '>':
        return '&gt;';
      case '"':
        return '&quot;';
      case "'":
        return '&apos;';
      default:
        return `&#${c.charCodeAt(0)};`;
    }
  });
}
