// The answer's Markdown, rendered incrementally: block boundaries and a safe renderer.
//
// The text is cut at its last block boundary (a blank line outside a code fence, followed by
// a line that starts at the margin and does not continue the list above); the live view
// renders what lies before the boundary once and only the open tail after it again. The
// boundary is found by scanning only the text that arrived since the last scan (the fence and
// list state are carried along), so the work per delta is the new text plus, at a cut, the
// open tail: never the whole answer.

import { Marked } from "marked";

const FENCE_OPEN = /^ {0,3}(`{3,}|~{3,})(.*)$/;
const FENCE_CLOSE = /^ {0,3}(`{3,}|~{3,})[ \t]*$/;
const MARKER = /^(?:([-*+])|\d{1,9}([.)]))(?:[ \t\r]|$)/; // a list item's marker, at the margin
const MARKER_SO_FAR = /^(?:[-*+]|\d{1,9}[.)]?)$/; // the start of a line that may become one

/** The kind of list item `line` starts ("-", "1." ...), null if none, undefined if too early to say. */
export function listMarker(line, complete) {
  if (!complete && MARKER_SO_FAR.test(line)) return undefined; // "-" may yet be "---" or "-x"
  const match = MARKER.exec(line);
  return match ? match[1] ?? `1${match[2]}` : null;
}

const HEAD = 12; // characters of a line enough to tell whether it starts a list item

/**
 * Cuts a text that grows at its end into finished blocks and an open tail, looking at each
 * character once. The text is never kept whole: JavaScript engines copy a string built by
 * `+=` when it is next read, so reading the whole answer at every delta would cost O(n).
 */
export class BlockSplitter {
  constructor() {
    this.tail = ""; // the text after the last boundary: the open block(s)
    this.blocks = 0; // finished blocks cut off so far
    this.length = 0; // characters (UTF-16 units) received
    this.lineStart = 0; // where the line still open begins, as an offset into the tail
    this.lineParts = []; // the pieces of that line received so far
    this.head = ""; // its first HEAD characters
    this.fence = null; // the open code fence, {char, length}, or null
    this.afterBlank = false; // a blank line (outside a fence) since the last non-blank one
    this.content = false; // a non-blank line since the last boundary (no empty first block)
    this.list = null; // the kind of list item the last line at the margin started, if any
  }

  /** Appends `chunk`; returns the finished blocks it completed (usually none or one). */
  push(chunk) {
    const base = this.tail.length; // where the chunk begins in the tail
    this.tail += chunk;
    this.length += chunk.length;
    const cuts = []; // offsets into the tail where new blocks start
    let from = 0;
    let nl = chunk.indexOf("\n");
    while (nl !== -1) {
      const part = chunk.slice(from, nl);
      this.lineParts.push(part);
      if (this.head.length < HEAD) this.head += part.slice(0, HEAD - this.head.length);
      if (this.line(this.lineParts.join(""))) cuts.push(this.lineStart);
      this.lineStart = base + nl + 1;
      this.lineParts = [];
      this.head = "";
      from = nl + 1;
      nl = chunk.indexOf("\n", from);
    }
    if (from < chunk.length) {
      const part = chunk.slice(from);
      this.lineParts.push(part);
      if (this.head.length < HEAD) this.head += part.slice(0, HEAD - this.head.length);
      // The line still open may start a block already: its first characters say so, and a
      // paragraph is often one long line, which would otherwise keep the one before in the tail.
      if (this.head[0] !== "\r" && this.starts(this.head, false)) cuts.push(this.lineStart);
    }
    return this.cut(cuts);
  }

  // Cuts the tail at `cuts` (increasing offsets into it): the finished blocks before the last.
  cut(cuts) {
    if (cuts.length === 0) return [];
    const done = [];
    let at = 0;
    for (const offset of cuts) {
      done.push(this.tail.slice(at, offset));
      at = offset;
    }
    this.tail = this.tail.slice(at);
    this.lineStart -= at;
    this.blocks += done.length;
    return done;
  }

  // After a blank line outside a fence, a line at the margin starts a new block; an indented
  // one may continue a list item or an indented code block, and a next item of the same list
  // continues a loose list: a cut would break them apart. `line` may be only its beginning.
  starts(line, complete) {
    if (this.fence !== null || !this.afterBlank || !this.content) return false;
    if (line[0] === " " || line[0] === "\t") return false;
    if (this.list !== null) {
      const marker = listMarker(line, complete);
      if (marker === undefined) return false; // decided by the next characters
      if (marker === this.list) {
        this.afterBlank = false;
        return false;
      }
    }
    this.afterBlank = false;
    return true;
  }

  // One whole line (without its "\n"); true when a new block starts with it.
  line(raw) {
    const line = raw.endsWith("\r") ? raw.slice(0, -1) : raw;
    if (this.fence !== null) {
      const close = FENCE_CLOSE.exec(line);
      if (close && close[1][0] === this.fence.char && close[1].length >= this.fence.length) this.fence = null;
      return false;
    }
    if (line.trim() === "") {
      this.afterBlank = true;
      return false;
    }
    const starts = this.starts(line, true);
    this.afterBlank = false;
    this.content = true;
    if (line[0] !== " " && line[0] !== "\t") this.list = listMarker(line, true);
    const open = FENCE_OPEN.exec(line);
    if (open && !(open[1][0] === "`" && open[2].includes("`"))) {
      this.fence = { char: open[1][0], length: open[1].length };
    }
    return starts;
  }
}

/** The blocks of `text` fed in pieces of `size` characters: finished blocks, then the tail. */
export function splitBlocks(text, size = Infinity) {
  const splitter = new BlockSplitter();
  const blocks = [];
  const step = Number.isFinite(size) && size > 0 ? size : Math.max(text.length, 1);
  for (let i = 0; i < text.length; i += step) blocks.push(...splitter.push(text.slice(i, i + step)));
  blocks.push(splitter.tail);
  return blocks;
}

// ---------------------------------------------------------------------------------------------
// Markdown, rendered safely

const ESCAPES = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };
export function escapeHtml(text) {
  return text.replace(/[&<>"']/g, (ch) => ESCAPES[ch]);
}

// Links and images only to the web, mail, or relative addresses (the notebook's own files and
// anchors): a javascript: link in a model's answer would run in the notebook's page when
// clicked. Judged as the browser will read the attribute: marked leaves character references
// (javascript&#58;...) for the browser to decode, and the browser drops controls and spaces.
export function safeUrl(href) {
  const decoded = href
    .replace(/&#x([0-9a-f]+);?|&#(\d+);?/gi, (_, hex, dec) => {
      const code = hex ? parseInt(hex, 16) : parseInt(dec, 10);
      return code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : "\ufffd";
    })
    .replace(/[\u0000-\u0020\u007f]/g, "");
  const head = decoded.split(/[/?#]/, 1)[0]; // a scheme can only come before these
  if (!head.includes(":") && !head.includes("&")) return true; // relative: no scheme at all
  return /^(?:https?|mailto):/i.test(decoded);
}

const markdown = new Marked({
  gfm: true, // the flavour JupyterLab's own Markdown renderer uses (marked, too)
  renderer: {
    // marked passes raw HTML through; the answer is a model's text, so show it as text.
    html(token) {
      return escapeHtml(token.text);
    },
    link(token) {
      return safeUrl(token.href) ? false : this.parser.parseInline(token.tokens);
    },
    image(token) {
      return safeUrl(token.href) ? false : escapeHtml(token.text);
    },
  },
  extensions: [
    {
      // $...$ and $$...$$ stay as they were typed (no emphasis inside): the final static
      // Markdown, rendered by the frontend, typesets them.
      name: "omniMath",
      level: "inline",
      start(src) {
        const at = src.indexOf("$");
        return at === -1 ? undefined : at;
      },
      tokenizer(src) {
        const match = /^\$\$[\s\S]+?\$\$|^\$(?![\s$])(?:\\.|[^\\$\n])+?(?<!\s)\$/.exec(src);
        if (match) return { type: "omniMath", raw: match[0] };
        return undefined;
      },
      renderer(token) {
        return `<span class="omni-math">${escapeHtml(token.raw)}</span>`;
      },
    },
  ],
});

/** The HTML of a Markdown text, with raw HTML shown as text and unsafe links dropped. */
export function renderMarkdown(text) {
  return markdown.parse(text, { async: false });
}

/** Code points in `text` (what Python's len counts), in one pass over it. */
export function codePoints(text) {
  let n = text.length;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff) n -= 1;
  }
  return n;
}
