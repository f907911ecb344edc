/**
 * Spec bytes to text. Valid UTF-8 decodes as usual (a leading BOM is dropped). Each byte that does not belong
 * to a well-formed UTF-8 sequence becomes the lone surrogate U+DC00 + byte (as Python's "surrogateescape"
 * does): well-formed UTF-8 never decodes to a lone surrogate, so the parser can report the first such byte at
 * its line and column (ATN1005) instead of the text silently holding U+FFFD.
 */
export function decodeSource(bytes: Uint8Array): string {
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    return decodeEscapingBadBytes(bytes);
  }
}

/** The byte that `decodeSource` escaped as this code unit, if it is one of its escapes. */
export function escapedByte(unit: number): number | undefined {
  return unit >= 0xdc80 && unit <= 0xdcff ? unit - 0xdc00 : undefined;
}

/** Where the text has a lone surrogate (an escaped bad byte, or a broken UTF-16 string), or -1. */
export function firstLoneSurrogate(text: string): number {
  const m = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.exec(text);
  return m ? m.index : -1;
}

function decodeEscapingBadBytes(b: Uint8Array): string {
  const units: number[] = [];
  const parts: string[] = [];
  const flush = (): void => {
    parts.push(String.fromCharCode(...units));
    units.length = 0;
  };
  const cont = (i: number, lo = 0x80, hi = 0xbf): boolean => i < b.length && b[i]! >= lo && b[i]! <= hi;
  let i = b.length >= 3 && b[0] === 0xef && b[1] === 0xbb && b[2] === 0xbf ? 3 : 0;
  while (i < b.length) {
    const c = b[i]!;
    let cp = -1;
    let n = 1;
    if (c < 0x80) cp = c;
    else if (c >= 0xc2 && c <= 0xdf && cont(i + 1)) {
      cp = ((c & 0x1f) << 6) | (b[i + 1]! & 0x3f);
      n = 2;
    } else if (c >= 0xe0 && c <= 0xef && cont(i + 1, c === 0xe0 ? 0xa0 : 0x80, c === 0xed ? 0x9f : 0xbf) && cont(i + 2)) {
      cp = ((c & 0x0f) << 12) | ((b[i + 1]! & 0x3f) << 6) | (b[i + 2]! & 0x3f);
      n = 3;
    } else if (c >= 0xf0 && c <= 0xf4 && cont(i + 1, c === 0xf0 ? 0x90 : 0x80, c === 0xf4 ? 0x8f : 0xbf) && cont(i + 2) && cont(i + 3)) {
      cp = ((c & 0x07) << 18) | ((b[i + 1]! & 0x3f) << 12) | ((b[i + 2]! & 0x3f) << 6) | (b[i + 3]! & 0x3f);
      n = 4;
    }
    if (cp < 0) units.push(0xdc00 + c);
    else if (cp > 0xffff) units.push(0xd800 + ((cp - 0x10000) >> 10), 0xdc00 + ((cp - 0x10000) & 0x3ff));
    else units.push(cp);
    i += n;
    if (units.length >= 8192) flush();
  }
  flush();
  return parts.join("");
}
